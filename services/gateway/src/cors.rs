//! CORS for browser clients served from another origin (OIH's web UI is one), API.md §11: the allowed origins come
//! from `FLOWMATE_CORS_ORIGINS`; a preflight is answered `204` echoing the origin, with credentials allowed.

use std::time::Duration;

use axum::{
    extract::Request,
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Headers a browser client may send.
const ALLOWED_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("idempotency-key"),
];

/// Methods a browser client may use.
const ALLOWED_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The CORS layer for `origins`: none when empty (no CORS headers; preflights are not answered), `*` (any origin,
/// without credentials, as the specification requires), or a list of exact origins (echoed, with credentials).
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods(ALLOWED_METHODS)
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        return Some(base.allow_origin(AllowOrigin::any()));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(base.allow_origin(AllowOrigin::list(list)).allow_credentials(true))
}

/// Answers an accepted preflight `204 No Content` (the CORS layer answers `200` with an empty body).
pub async fn preflight_no_content(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = next.run(request).await;
    if preflight
        && response.status() == StatusCode::OK
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}
