//! The sync fast path (the execution service runs a sync webhook's pure flow in the call): the 200 still means
//! recorded, a repeat of a request id runs nothing twice, and a run past the sync timeout is recorded and finishes.
//! The first sync webhook of a tenant takes the queue (the webhook service then learns the tenant has no quota);
//! the answers asserted here are the same on either path, so the tests do not depend on which one a request took.

use serde_json::json;

use super::helpers::{executions_of, post_raw, request_id, started};
use crate::{
    harness::App,
    support::{edge, finished, node},
};

fn total_flow(settings: serde_json::Value) -> serde_json::Value {
    json!({"name": "fast sync", "flowSettings": {"webhooks": settings},
           "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                               node("total", "transform", "map", json!({"expression": "{\"total\": $sum(items.(price * qty))}"}))],
                     "edges": [edge("in", "total")]}})
}

async fn a_sync_answer_means_the_execution_is_recorded(app: &App) {
    let fid = started(
        app,
        &app.admin,
        total_flow(json!({"responseMode": "sync", "syncTimeoutMs": 2000})),
    )
    .await;
    let mut last = String::new();
    for _ in 0..3 {
        let r = app
            .api
            .post(&format!("/hook/{fid}"), None, &crate::support::order())
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body, json!({"total": 17}));
        last = r.header("x-request-id").unwrap().to_owned();
        // Read at once, without waiting: the answer came after the execution was committed.
        let e = app
            .api
            .get(&format!("/executions/{last}"), Some(&app.admin))
            .await;
        assert_eq!(e.status, 200, "{:?}", e.body);
        assert_eq!(e.body["data"]["status"], "succeeded", "{:?}", e.body);
        assert_eq!(e.body["data"]["flowId"], fid.as_str());
    }
    // The same request id again: the execution it names is the answer, and nothing runs a second time.
    let body = crate::support::order().to_string();
    let again = post_raw(
        app,
        &format!("/hook/{fid}"),
        Some("application/json"),
        &body,
        &[("x-request-id", last.as_str())],
    )
    .await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    assert_eq!(
        again.body,
        json!({"data": {"requestId": last, "status": "running", "statusUrl": format!("/executions/{last}")}})
    );
    assert_eq!(executions_of(app, &fid).await, 3, "the repeat ran nothing");
}

async fn a_sync_run_past_its_timeout_is_recorded_once_and_finishes(app: &App) {
    // A code step is pure (the fast path runs it) and can take its time: 800 ms against a 200 ms sync timeout.
    let mut slow = node(
        "slow",
        "code",
        "execute",
        json!({"code": "const t = Date.now(); while (Date.now() - t < 800) {} return {done: true};"}),
    );
    slow["nodeSettings"] = json!({"timeoutMs": 5000});
    let fid = started(
        app,
        &app.admin,
        json!({"name": "slow sync", "flowSettings": {"webhooks": {"responseMode": "sync", "syncTimeoutMs": 200}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})), slow], "edges": [edge("in", "slow")]}}),
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = app.api.post(&format!("/hook/{fid}"), None, &json!({})).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        let rid = request_id(&r);
        assert_eq!(
            r.body,
            json!({"data": {"requestId": rid, "status": "running", "statusUrl": format!("/executions/{rid}")}})
        );
        ids.push(rid);
    }
    for rid in &ids {
        let e = finished(app, rid).await;
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(e["steps"].as_array().map(Vec::len), Some(2), "{e}");
    }
    assert_eq!(executions_of(app, &fid).await, 2, "each recorded once");
}

crate::both_modes!(
    a_sync_answer_means_the_execution_is_recorded,
    a_sync_run_past_its_timeout_is_recorded_once_and_finishes,
);
