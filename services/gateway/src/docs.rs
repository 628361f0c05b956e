//! `/api/docs`: the interactive API reference, served entirely by FlowMate (it works with no internet access).
//! The viewer is RapiDoc, vendored from npm (see `assets/vendor/VENDORED.md`) and embedded compressed.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::state::AppState;

/// RapiDoc styles its web components with inline styles, so the docs page (which shows only the OpenAPI
/// document, never user data) allows them; scripts stay FlowMate's own files.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const VIEWER: &[u8] = include_bytes!("../assets/vendor/rapidoc-9.3.8-min.js.gz");
const VIEWER_PATH: &str = "/api/docs/assets/rapidoc-9.3.8-min.js";

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FlowMate API</title>
<script type="module" src="/api/docs/assets/rapidoc-9.3.8-min.js"></script>
</head>
<body>
<rapi-doc spec-url="/api/openapi.json" render-style="read" theme="light" show-header="false"
  allow-server-selection="false" allow-authentication="true" primary-color="#2547d0" schema-style="table"
  regular-font="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" mono-font="ui-monospace, Menlo, Consolas, monospace"
  load-fonts="false"></rapi-doc>
</body>
</html>
"##;

/// The docs page and its viewer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(page))
        .route("/api/docs/", get(page))
        .route(VIEWER_PATH, get(viewer))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// The viewer is stored gzip-compressed (218 KB instead of 863 KB in the binary); every browser accepts that.
async fn viewer(headers: HeaderMap) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if !gzip {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "the API docs viewer is served gzip-compressed",
        )
            .into_response();
    }
    let mut response = VIEWER.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
