//! An HTTP server on loopback that flows call.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

/// The server: `/ok` echoes, `/fail` answers 500, `/flaky` fails twice then succeeds, `/count` counts its calls.
pub struct Target {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// Calls of `/count`.
    pub calls: Arc<AtomicUsize>,
    /// Calls of `/flaky`.
    pub flaky: Arc<AtomicUsize>,
}

/// Starts a [`Target`] on a free port; it runs until the test ends.
pub async fn target() -> Target {
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/ok",
            post(|Json(body): Json<Value>| async move { Json(json!({"received": body, "ok": true})) })
                .get(|| async { Json(json!({"ok": true})) }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/flaky",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    (StatusCode::SERVICE_UNAVAILABLE, "not yet")
                } else {
                    (StatusCode::OK, "finally")
                }
            })
            .with_state(flaky.clone()),
        )
        .route(
            "/count",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                Json(json!({"call": n.fetch_add(1, Ordering::SeqCst) + 1}))
            })
            .with_state(calls.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Target { base, calls, flaky }
}
