//! The gateway: the only public entry. It serves the REST API of API.md over axum, verifies bearer tokens locally,
//! and calls the services behind it over gRPC. It owns no data.

pub mod clients;
pub mod config;
pub mod console;
mod cors;
mod docs;
mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
mod openapi_rules;
pub mod routes;
pub mod state;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use flowmate_auth::sync::{GrpcKeySource, KeySource};
use flowmate_bus::SharedBus;
use flowmate_config::Settings;
use flowmate_domain::ErrorCode;
use flowmate_runtime::{Check, Running, ServiceHost};
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer,
    normalize_path::NormalizePathLayer,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
};

pub use crate::config::GatewayConfig;
use crate::{
    clients::{GrpcExecutions, GrpcFlows, GrpcIdentity, GrpcSecrets, GrpcTemplates, GrpcWebhooks},
    error::ApiError,
    state::AppState,
};

/// Connects to the services, starts keeping the token verifier current, and serves the REST API until `shutdown`.
pub async fn start(
    config: GatewayConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut host = ServiceHost::new("gateway", bus, shutdown);
    let identity: Arc<dyn clients::IdentityApi> =
        Arc::new(GrpcIdentity::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = host
        .verify_tokens(&config.identity_url, config.rpc_timeout, config.auth_refresh)
        .await?;
    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    host.ready_check(Check::probe("identity", move || {
        let keys = keys.clone();
        async move { keys.keys().await.map(|_| ()) }
    }));
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
    let options = RouterOptions {
        body_limit: config.body_limit_bytes,
        console: config.console.clone(),
        cors_origins: config.cors_origins.clone(),
    };
    host.serve(config.http_addr, router(state, &options)).await
}

/// Starts the gateway as configured by `settings` (its own binary, `flowmate service gateway`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(GatewayConfig::from_settings(&settings), bus, shutdown).await
}

/// How the REST API is served.
#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Largest accepted request body.
    pub body_limit: usize,
    /// The web console's options.
    pub console: console::ConsoleConfig,
    /// Origins allowed to call from a browser (CORS); empty = none, `*` = any without credentials.
    pub cors_origins: Vec<String>,
}

/// Where the identity routes are mounted: FlowMate's `/api` and OIH's `/api/v1` (API.md §11).
const IDENTITY_PREFIXES: [&str; 2] = ["/api", "/api/v1"];

/// The REST API with its middleware: request ids, body limit, panic guard, error-shaped fallbacks, API docs, the
/// web console, CORS, and paths matching with or without a trailing slash.
pub fn router(state: AppState, options: &RouterOptions) -> Router {
    let users = routes::users::router();
    let mut api = Router::new()
        .merge(routes::auth::router())
        .merge(routes::flows::router())
        .merge(routes::templates::router())
        .merge(routes::executions::router())
        .merge(routes::hooks::router())
        .merge(routes::secrets::router())
        .nest("/users", users.clone());
    for prefix in IDENTITY_PREFIXES {
        api = api
            .nest(&format!("{prefix}/users"), users.clone())
            .nest(&format!("{prefix}/tenants"), routes::tenants::router())
            .nest(&format!("{prefix}/roles"), routes::roles::router())
            .nest(prefix, routes::auth::api_router());
    }
    let api = api
        .route("/", get(root))
        .route("/api/openapi.json", get(|| async { Json(openapi::document()) }))
        .merge(docs::router())
        .merge(console::router(options.console.clone()))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "Not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed")
        })
        .with_state(state)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }))
        .layer(axum::middleware::from_fn(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), NewRequestId));
    // Routing happens inside: the outer router only trims a trailing slash first and answers CORS preflights.
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(cors::preflight_no_content))
        .option_layer(cors::layer(&options.cors_origins))
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(api);
    Router::new().fallback_service(service)
}

/// A browser (asking for HTML) goes to the web console; other clients get where the documentation is.
async fn root(headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        return axum::response::Redirect::to("/console").into_response();
    }
    Json(serde_json::json!({
        "name": "FlowMate",
        "version": env!("CARGO_PKG_VERSION"),
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "login": "POST /login",
        "console": "/console",
    }))
    .into_response()
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
