//! The console's routes and the middleware every console response passes: security headers, CSRF checks on
//! every POST, and the way to the login page.

use axum::{
    routing::{get, post},
    Extension, Router,
};

use super::{assets, executions, flows, login, page, people, secrets, session, templates};
use crate::state::AppState;

/// Console options.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Mark cookies `Secure` on every response (without it: only when the request came over TLS, as
    /// `X-Forwarded-Proto: https` says).
    pub secure_cookie: bool,
}

/// Every console route. A POST reaches its handler only with a valid CSRF token (see [`session::csrf_guard`]).
pub fn router(config: ConsoleConfig) -> Router<AppState> {
    Router::new()
        .route("/console", get(login::page))
        .route("/console/", get(login::page))
        .route("/console/login", post(login::login))
        .route("/console/logout", post(login::logout))
        .route("/console/flows", get(flows::list))
        .route("/console/flows/{id}", get(flows::detail))
        .route("/console/flows/{id}/start", post(flows::start))
        .route("/console/flows/{id}/stop", post(flows::stop))
        .route("/console/executions", get(executions::list))
        .route("/console/executions/{id}", get(executions::detail))
        .route("/console/executions/{id}/retry", post(executions::retry))
        .route("/console/executions/{id}/cancel", post(executions::cancel))
        .route("/console/templates", get(templates::list))
        .route("/console/templates/{id}/generate", post(templates::generate))
        .route("/console/secrets", get(secrets::list))
        .route("/console/users", get(people::users))
        .route("/console/tenants", get(people::tenants))
        .route("/console/assets/{stamp}/{file}", get(assets::serve))
        // The REST router owns the fallback; unknown console paths get the console's own 404 page.
        .route("/console/{*rest}", get(page::not_found))
        .layer(axum::middleware::from_fn(session::csrf_guard))
        .layer(axum::middleware::from_fn(page::headers))
        .layer(Extension(config))
}
