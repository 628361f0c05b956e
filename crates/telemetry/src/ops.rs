//! `/healthz`, `/readyz` and `/metrics`, served by every service beside its API.

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};

/// A readiness probe: `Ok` when every dependency answers, else the name of what is down.
pub type Readiness = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The operational routes. `/healthz` answers while the process runs; `/readyz` runs `ready`.
pub fn router(ready: Readiness) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ready)
}

async fn readyz(State(ready): State<Readiness>) -> impl IntoResponse {
    match ready().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(what) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": what})),
        ),
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

/// Serves a service's router (gRPC routes and anything else) plus the operational routes on `listener` until
/// `shutdown`; every request runs in a span that continues the caller's trace.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: &'static str,
    app: Router,
    ready: Readiness,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    crate::metrics::handle();
    let app = app.merge(router(ready)).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let span = tracing::info_span!("request", service, path = %req.uri().path());
            crate::propagation::set_parent_from_headers(&span, req.headers());
            tracing::Instrument::instrument(next.run(req), span)
        },
    ));
    // Callers in this process (standalone mode) reach the service without the network while it serves.
    type GrpcRequest = http::Request<tonic::body::Body>;
    let local = flowmate_proto::transport::LocalService::new(tower::ServiceExt::<GrpcRequest>::map_err(
        tower::ServiceExt::<GrpcRequest>::map_response(app.clone(), |r: axum::response::Response| {
            r.map(tonic::body::Body::new)
        }),
        |never: std::convert::Infallible| -> flowmate_proto::transport::BoxError { match never {} },
    ));
    let registration = flowmate_proto::transport::serve_locally(listener.local_addr()?, local);
    let local_calls = registration.calls();
    // Without TCP_NODELAY a small response on a kept-alive connection waits for the peer's delayed ACK: ~40 ms
    // per request, on every gRPC hop between services.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            // From now on in-process callers get what network callers get: no new requests.
            drop(registration);
        })
        .await?;
    // As for open connections, the requests that arrived in process are answered before the service goes.
    local_calls.close();
    local_calls.wait().await;
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
