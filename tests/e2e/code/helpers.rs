//! Flows with one code step, and running them.

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, node, run, started},
};

/// A started manual flow whose step `code` runs `code` with `node_settings`, and `flow_settings`.
pub async fn code_flow(app: &App, code: &str, node_settings: Value, flow_settings: Value) -> String {
    let mut step = node("code", "code", "execute", json!({ "code": code }));
    step["nodeSettings"] = node_settings;
    let mut body = flow(
        "code",
        vec![node("in", "manual", "run", json!({})), step],
        vec![edge("in", "code")],
    );
    body["flowSettings"] = flow_settings;
    started(app, &app.admin, body).await
}

/// Runs `code` once on `data` with a time limit of `timeout_ms`; returns the finished execution.
pub async fn run_code(app: &App, code: &str, timeout_ms: u64, data: Value) -> Value {
    let id = code_flow(app, code, json!({ "timeoutMs": timeout_ms }), json!({})).await;
    let execution = run(app, &app.admin, &id, data).await;
    finished(app, &execution).await
}

/// The code step's record in an execution.
pub fn code_step(execution: &Value) -> Value {
    execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == "code")
        .cloned()
        .unwrap_or_else(|| panic!("no code step in {execution}"))
}

/// Milliseconds the step took, from its record.
pub fn took_ms(step: &Value) -> i64 {
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(step[k].as_str().unwrap()).unwrap();
    (at("finishedAt") - at("startedAt")).num_milliseconds()
}
