//! `/healthz`, `/readyz` and `/metrics`, served by every service beside its API, and the server loop that serves
//! them with the service's own routes.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use futures::future::join_all;

type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// One readiness check: a named dependency (`database`, `bus`, `identity keys`) and how to ask whether it is
/// there.
#[derive(Clone)]
pub struct Check {
    name: &'static str,
    probe: Probe,
}

/// How long one readiness check may take. A dependency that does not answer within it counts as down, so
/// `/readyz` answers well within a probe's usual one-second timeout whatever is unreachable (a database whose
/// pool waits for a connection, a broker that accepts TCP but says nothing).
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(400);

impl Check {
    /// A check of a synchronous condition; the error says what is missing.
    pub fn condition(
        name: &'static str,
        condition: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Check {
        let condition = Arc::new(condition);
        Check {
            name,
            probe: Arc::new(move || {
                let condition = condition.clone();
                Box::pin(async move { condition() })
            }),
        }
    }

    /// A check that asks a dependency over IO.
    pub fn probe<F, Fut, E>(name: &'static str, probe: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let probe = Arc::new(probe);
        Check {
            name,
            probe: Arc::new(move || {
                let probe = probe.clone();
                Box::pin(async move { probe().await.map_err(|e| e.to_string()) })
            }),
        }
    }

    /// A check named `name` that passes while `a` or `b` passes (a service that can do its work with either
    /// dependency); when both fail it names both reasons.
    pub fn either(name: &'static str, a: Check, b: Check) -> Check {
        let (a, b) = (Arc::new(a), Arc::new(b));
        Check {
            name,
            probe: Arc::new(move || {
                let (a, b) = (a.clone(), b.clone());
                Box::pin(async move {
                    match futures::future::join(a.run(), b.run()).await {
                        (Ok(()), _) | (_, Ok(())) => Ok(()),
                        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
                    }
                })
            }),
        }
    }

    /// The dependency's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self) -> Result<(), String> {
        match tokio::time::timeout(CHECK_TIMEOUT, (self.probe)()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: {e}", self.name)),
            Err(_) => Err(format!(
                "{}: no answer within {} ms",
                self.name,
                CHECK_TIMEOUT.as_millis()
            )),
        }
    }
}

/// Runs every check at once, each bounded by [`CHECK_TIMEOUT`]; the reasons of all that failed, joined.
pub async fn readiness(checks: &[Check]) -> Result<(), String> {
    let results = join_all(checks.iter().map(Check::run)).await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// The operational routes. `/healthz` (and OIH's `/healthcheck`) answers while the process runs; `/readyz` runs `checks`.
pub fn router(checks: Arc<Vec<Check>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        // OIH's services answer `/healthcheck`; OIH's tooling probes it.
        .route("/healthcheck", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(checks)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(checks): State<Arc<Vec<Check>>>) -> impl IntoResponse {
    match readiness(&checks).await {
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
        flowmate_telemetry::metrics::render(),
    )
}

/// Serves a service's router (gRPC routes and anything else) plus the operational routes on `listener` until
/// `shutdown`; every request runs in a span that continues the caller's trace.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: &'static str,
    app: Router,
    checks: Vec<Check>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    flowmate_telemetry::metrics::handle();
    let app = app
        .merge(router(Arc::new(checks)))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let span = tracing::info_span!("request", service, path = %req.uri().path());
                flowmate_telemetry::propagation::set_parent_from_headers(&span, req.headers());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_names_every_failed_check_and_bounds_a_hanging_one() {
        let ok = Check::condition("identity keys", || Ok(()));
        let down = Check::condition("bus", || Err("connection refused".to_owned()));
        let hangs = Check::probe("database", || async {
            std::future::pending::<Result<(), String>>().await
        });
        let started = std::time::Instant::now();
        let reason = readiness(&[ok, down, hangs]).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            reason,
            "bus: connection refused; database: no answer within 400 ms"
        );
    }

    #[tokio::test]
    async fn either_passes_while_one_of_two_passes_and_names_both_when_neither_does() {
        let up = || Check::condition("database", || Ok(()));
        let down = || Check::condition("bus", || Err("connection refused".to_owned()));
        let hangs = || {
            Check::probe("database", || async {
                std::future::pending::<Result<(), String>>().await
            })
        };
        assert_eq!(
            readiness(&[Check::either("bus or database", down(), up())]).await,
            Ok(())
        );
        let started = std::time::Instant::now();
        let reason = readiness(&[Check::either("bus or database", down(), hangs())])
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert!(reason.starts_with("bus or database: "), "{reason}");
        assert!(reason.contains("bus"), "{reason}");
    }
}
