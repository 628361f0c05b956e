//! Running flows by hand, waiting for executions, and the sentinel that shows the execution service is past a
//! message.

use std::time::Duration;

use serde_json::{json, Value};

use super::{build::node, flows::started};
use crate::harness::App;

/// Runs a flow by hand as `token`; returns the execution id.
pub async fn run(app: &App, token: &str, flow_id: &str, body: Value) -> String {
    let r = app
        .api
        .post(&format!("/flows/{flow_id}/run"), Some(token), &body)
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "queued");
    assert_eq!(r.body["data"]["flowId"], flow_id);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Polls execution `id` as `token` until `done` holds for it (30 s at most); returns it as soon as it does.
pub async fn wait_execution(app: &App, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = Value::Null;
    loop {
        let r = app.api.get(&format!("/executions/{id}"), Some(token)).await;
        if r.status == 200 {
            last = r.body["data"].clone();
            if done(&last) {
                return last;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} never got there within 30 s: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether an execution reached a final status.
pub fn is_final(e: &Value) -> bool {
    matches!(e["status"].as_str(), Some("succeeded" | "failed" | "cancelled"))
}

/// Waits, as the admin, until execution `id` reached a final status; returns it.
pub async fn finished(app: &App, id: &str) -> Value {
    wait_execution(app, &app.admin, id, is_final).await
}

/// The steps of an execution as (step id, status, attempt).
pub fn steps(e: &Value) -> Vec<(String, String, u64)> {
    e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stepId"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
                s["attempt"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// What [`steps`] answers for an execution that ran `items`.
pub fn step_list(items: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect()
}

/// A flow run only to show that the execution service got past a message: a test publishes (or makes a service
/// publish) something that must have no effect, then passes the sentinel. The sentinel's trigger is queued on the
/// execution work queue behind every trigger published before it, so once its execution has finished, the earlier
/// ones have been taken too — a test asserting "nothing happened" then no longer passes merely because the
/// unwanted thing was slow.
pub struct Sentinel {
    flow: String,
}

impl Sentinel {
    /// Creates and starts the sentinel flow (do it before the thing under test, so starting it is not part of the
    /// wait).
    pub async fn new(app: &App) -> Sentinel {
        let body = json!({"name": "sentinel", "graph": {
            "nodes": [node("start", "manual", "run", json!({})), node("seen", "log", "write", json!({}))],
            "edges": [{"source": "start", "target": "seen"}]}});
        Sentinel {
            flow: started(app, &app.admin, body).await,
        }
    }

    /// Runs the sentinel flow and waits until that execution succeeded; returns its id. Work queues are FIFO per
    /// lane (the admin tenant's shard, and the unsharded queue where a test's own tenant-less triggers go), so
    /// the sentinel passes through both: a manual run and a trigger published without a tenant.
    pub async fn pass(&self, app: &App) -> String {
        let unsharded = flowmate_domain::Id::new().into_string();
        let item = json!({"executionId": unsharded, "flowId": self.flow,
                          "trigger": {"type": "webhook", "requestId": unsharded},
                          "message": {"id": unsharded, "data": {"sentinel": true}, "headers": {}, "metadata": {}}});
        app.bus
            .publish(&flowmate_domain::Envelope::new("flow.execute", "test", item))
            .await
            .unwrap();
        let id = run(app, &app.admin, &self.flow, json!({"sentinel": true})).await;
        for id in [&id, &unsharded] {
            let e = finished(app, id).await;
            assert_eq!(e["status"], "succeeded", "the sentinel runs: {e}");
        }
        id
    }
}
