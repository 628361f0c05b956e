//! OIH compatibility and the identity fixes of issue 19, through the public API in both modes: the three defects
//! (revocation granularity, the last admin, parameter hardening), API.md §11 (OIH's identity API), the OIH
//! differences of §1–§4, CORS, and a replay of OIH's web UI calls for its flows and users screens.

mod cors;
mod defects;
mod differences;
mod identity;
mod tokens;
mod web_ui;

use serde_json::{json, Value};

use crate::harness::App;

/// A valid webhook → log flow named `name`.
pub fn order_sync(name: &str) -> Value {
    json!({
        "name": name,
        "graph": {
            "nodes": [
                {"id": "step_1", "componentId": "webhook", "function": "receive"},
                {"id": "step_2", "componentId": "log", "function": "write"}
            ],
            "edges": [{"source": "step_1", "target": "step_2"}]
        }
    })
}

/// Creates a flow as `token`; returns its id.
pub async fn create_flow(app: &App, token: &str, body: Value) -> String {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status.as_u16(), 201, "{:?}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// The id of an object.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Waits (5 s at most) until `token` is refused with `401 Token invalid.`: a revocation reaches the other services
/// of a distributed installation as an event.
pub async fn until_refused(app: &App, token: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = app.api.get("/api/users/me", Some(token)).await;
        if r.status == 401 {
            r.assert_error(401, "Token invalid.");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token is still accepted: {:?}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
