//! The gateway: the only public entry. It serves the REST API of API.md over axum, verifies bearer tokens locally,
//! and calls the services behind it over gRPC. It owns no data.

pub mod clients;
pub mod config;
mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod state;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use flowmate_auth::{
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::SharedBus;
use flowmate_domain::ErrorCode;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
};
use utoipa::OpenApi;
use utoipa_scalar::{Scalar, Servable};

pub use crate::config::GatewayConfig;
use crate::{
    clients::{GrpcExecutions, GrpcFlows, GrpcIdentity, GrpcSecrets, GrpcTemplates, GrpcWebhooks},
    error::ApiError,
    state::AppState,
};

/// A started gateway.
pub struct Running {
    /// Where the REST API listens.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight requests are done.
    pub task: JoinHandle<()>,
}

/// Connects to the services, starts keeping the token verifier current, and serves the REST API until `shutdown`.
pub async fn start(
    config: GatewayConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let identity: Arc<dyn clients::IdentityApi> =
        Arc::new(GrpcIdentity::new(&config.identity_url, config.rpc_timeout)?);
    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(
        keys.clone(),
        verifier.clone(),
        config.auth_refresh,
        shutdown.clone(),
    );
    let events =
        flowmate_auth::sync::subscribe_revocations(&bus, "gateway", verifier.clone(), shutdown.clone())
            .await?;

    let flows: Arc<dyn clients::FlowsApi> = Arc::new(GrpcFlows::new(&config.flows_url, config.rpc_timeout)?);
    let templates: Arc<dyn clients::TemplatesApi> =
        Arc::new(GrpcTemplates::new(&config.templates_url, config.rpc_timeout)?);
    let executions: Arc<dyn clients::ExecutionsApi> =
        Arc::new(GrpcExecutions::new(&config.executions_url, config.rpc_timeout)?);
    // A sync webhook may wait for its execution for minutes; the webhook service bounds the wait itself.
    let webhooks: Arc<dyn clients::WebhooksApi> = Arc::new(GrpcWebhooks::new(
        &config.webhooks_url,
        config.rpc_timeout.max(Duration::from_secs(600)),
    )?);
    // A consent callback waits for the provider's token endpoint (bounded by the secret service).
    let secrets: Arc<dyn clients::SecretsApi> = Arc::new(GrpcSecrets::new(
        &config.secrets_url,
        config.rpc_timeout.max(Duration::from_secs(30)),
    )?);
    let state = AppState {
        identity,
        flows,
        templates,
        executions,
        webhooks,
        secrets,
        verifier,
    };
    let app = router(state.clone(), config.body_limit_bytes);
    let listener = tokio::net::TcpListener::bind(&config.http_addr).await?;
    let addr = listener.local_addr()?;
    let ready: flowmate_telemetry::ops::Readiness = Arc::new(move || {
        let (state, keys) = (state.clone(), keys.clone());
        Box::pin(async move {
            if !state.verifier.has_keys() {
                return Err("identity keys not loaded yet".to_owned());
            }
            let probe = tokio::time::timeout(Duration::from_secs(2), keys.keys()).await;
            match probe {
                Ok(Ok(_)) => Ok(()),
                _ => Err("identity unreachable".to_owned()),
            }
        })
    });
    let task = tokio::spawn(async move {
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "gateway", app, ready, shutdown).await {
            tracing::error!(error = %e, "gateway server failed");
        }
        let _ = sync.await;
        let _ = events.await;
    });
    tracing::info!(%addr, "gateway listening");
    Ok(Running { addr, task })
}

/// The REST API with its middleware: request ids, body limit, panic guard, error-shaped fallbacks, API docs.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let users = routes::users::router();
    Router::new()
        .merge(routes::auth::router())
        .merge(routes::flows::router())
        .merge(routes::templates::router())
        .merge(routes::executions::router())
        .merge(routes::hooks::router())
        .merge(routes::secrets::router())
        .nest("/api/users", users.clone())
        .nest("/users", users)
        .nest("/api/tenants", routes::tenants::router())
        .nest("/api/roles", routes::roles::router())
        .route("/", get(root))
        .route(
            "/api/openapi.json",
            get(|| async { Json(openapi::ApiDoc::openapi()) }),
        )
        .merge(Scalar::with_url("/api/docs", openapi::ApiDoc::openapi()))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "Not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed")
        })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }))
        .layer(axum::middleware::from_fn(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), NewRequestId))
}

/// What a person opening the printed URL in a browser gets: where the documentation is.
async fn root() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "FlowMate",
        "version": env!("CARGO_PKG_VERSION"),
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "login": "POST /login",
    }))
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Generates request ids (UUIDv7) for requests that bring none.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Runs each request in a span carrying its id, method and path, continuing the caller's trace.
async fn request_span(req: Request, next: axum::middleware::Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("gateway.http", request_id = %id, method = %req.method(), path = %req.uri().path());
    flowmate_telemetry::propagation::set_parent_from_headers(&span, req.headers());
    let started = std::time::Instant::now();
    let response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        )
    });
    metrics::counter!("flowmate_http_requests_total", "status" => status.to_string()).increment(1);
    response
}
