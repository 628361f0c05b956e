//! Building and running the flows of the flow-control scenarios.

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{finished, run, started},
};

/// A started manual flow of `nodes` (the first is given: `in`, a manual trigger) joined by `edges`.
pub async fn manual_flow(app: &App, name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> String {
    let mut all = vec![crate::support::node("in", "manual", "run", json!({}))];
    all.extend(nodes);
    started(app, &app.admin, crate::support::flow(name, all, edges)).await
}

/// Runs flow `id` with `data` and waits for the execution to finish.
pub async fn run_to_end(app: &App, id: &str, data: Value) -> Value {
    let execution = run(app, &app.admin, id, data).await;
    finished(app, &execution).await
}

/// The records of step `step_id` in an execution, in order.
pub fn records(execution: &Value, step_id: &str) -> Vec<Value> {
    execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stepId"] == step_id)
        .cloned()
        .collect()
}

/// The output of the last record of `step_id`.
pub fn output(execution: &Value, step_id: &str) -> Value {
    records(execution, step_id)
        .last()
        .unwrap_or_else(|| panic!("no step {step_id} in {execution}"))["output"]
        .clone()
}

/// An edge with a condition.
pub fn edge_if(source: &str, target: &str, condition: &str) -> Value {
    json!({"source": source, "target": target, "config": {"condition": condition}})
}

/// Starts a flow and expects the start to fail; returns its `statusReason`.
pub async fn start_fails(app: &App, body: Value) -> String {
    let r = app.api.post("/flows", Some(&app.admin), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let flow = crate::support::wait_flow(app, &app.admin, &id, "inactive").await;
    flow["statusReason"].as_str().unwrap_or_default().to_owned()
}
