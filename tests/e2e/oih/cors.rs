//! CORS (API.md §11): origins from `FLOWMATE_CORS_ORIGINS`; a preflight is `204` echoing an allowed origin with
//! credentials, methods and headers; other origins get no CORS headers; none configured means no CORS at all.

use reqwest::Method;
use serde_json::json;

use crate::harness::{spawn_with, App, Mode, ADMIN, ADMIN_PASSWORD};

const UI: &str = "https://ui.example.com";

async fn preflight(app: &App, origin: &str, path: &str) -> flowmate_testkit::Reply {
    let request = app
        .api
        .request(Method::OPTIONS, path, None)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-request-id, idempotency-key",
        );
    app.api.send(request).await
}

async fn an_allowed_origin_gets_its_preflight_and_headers(app: &App) {
    for path in ["/login", "/api/v1/users/me", "/flows/"] {
        let r = preflight(app, UI, path).await;
        assert_eq!(r.status.as_u16(), 204, "{path}: {:?}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), Some(UI), "{path}");
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
        let methods = r.header("access-control-allow-methods").unwrap().to_lowercase();
        for m in ["get", "post", "put", "patch", "delete"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = r.header("access-control-allow-headers").unwrap().to_lowercase();
        for h in ["authorization", "content-type", "x-request-id", "idempotency-key"] {
            assert!(headers.contains(h), "{headers}");
        }
    }
    // The actual call carries the CORS headers too, and still works.
    let request = app
        .api
        .request(Method::POST, "/login", None)
        .header("origin", UI)
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}));
    let r = app.api.send(request).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(UI));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    // Another origin gets no CORS headers, so browsers refuse it.
    let r = preflight(app, "https://evil.example.com", "/login").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

async fn without_configured_origins_nothing_is_allowed(app: &App) {
    let r = preflight(app, UI, "/login").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_ne!(r.status.as_u16(), 204);
    let request = app
        .api
        .request(Method::GET, "/api/users/me", Some(&app.admin))
        .header("origin", UI);
    let r = app.api.send(request).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

async fn with_origins(mode: Mode, scenario: impl AsyncFnOnce(&App)) {
    let Some(app) = spawn_with(mode, |s| {
        s.cors_origins = format!("{UI}, https://admin.example.com/")
    })
    .await
    else {
        return;
    };
    scenario(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_an_allowed_origin_gets_its_preflight_and_headers() {
    with_origins(Mode::Standalone, an_allowed_origin_gets_its_preflight_and_headers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_an_allowed_origin_gets_its_preflight_and_headers() {
    with_origins(
        Mode::Distributed,
        an_allowed_origin_gets_its_preflight_and_headers,
    )
    .await;
}

crate::both_modes!(without_configured_origins_nothing_is_allowed);
