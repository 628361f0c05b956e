//! The flow the `/flows` scenarios save, and how they create it.

use serde_json::{json, Value};

use crate::harness::App;

/// A valid webhook → log flow named `name`.
pub fn order_sync(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Sync orders",
        "graph": {
            "nodes": [
                {"id": "step_1", "componentId": "webhook", "function": "receive"},
                {"id": "step_2", "componentId": "log", "function": "write", "fields": {"level": "info"}}
            ],
            "edges": [{"source": "step_1", "target": "step_2"}]
        }
    })
}

/// Creates a flow as `token`; returns it.
pub async fn create(app: &App, token: &str, body: Value) -> Value {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"].clone()
}

/// The id of an object.
pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Every flow permission.
pub const ALL_FLOW_PERMISSIONS: &[&str] = &["flows.read", "flows.write", "flows.control", "flows.bulk"];

/// An id no flow has.
pub const MISSING: &str = "01a2247a-0000-7000-8000-000000000000";
