//! What a webhook answers beyond "thank you": a repeated Idempotency-Key, sync replies, and the rate limit.

use serde_json::json;

use super::helpers::{executions_of, post_raw, recorder, request_id, started};
use crate::{
    harness::App,
    support::{finished, node},
};

async fn an_idempotency_key_repeat_gets_the_first_answer_and_starts_nothing(app: &App) {
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    let path = format!("/hook/{fid}");
    let first = post_raw(
        app,
        &path,
        Some("application/json"),
        "{}",
        &[("idempotency-key", "order-77")],
    )
    .await;
    assert_eq!(first.status, 200);
    let again = post_raw(
        app,
        &path,
        Some("application/json"),
        "{\"other\":1}",
        &[("idempotency-key", "order-77")],
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    // The sentinel: a request with another key, after the repeat. Had the repeat queued a trigger, it would be
    // ahead of this one's, so once this execution has finished the listing would show it.
    let other = post_raw(
        app,
        &path,
        Some("application/json"),
        "{}",
        &[("idempotency-key", "order-78")],
    )
    .await;
    assert_ne!(request_id(&other), request_id(&first));
    finished(app, &request_id(&first)).await;
    finished(app, &request_id(&other)).await;
    assert_eq!(executions_of(app, &fid).await, 2, "the repeat started nothing");
}

async fn a_sync_webhook_answers_with_its_respond_step(app: &App) {
    let fid = started(
        app,
        &app.admin,
        json!({"name": "sync", "flowSettings": {"webhooks": {"responseMode": "sync"}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                                   node("total", "transform", "map", json!({"expression": "{\"total\": $sum(items.(price * qty))}"})),
                                   node("reply", "respond", "reply", json!({"status": 201, "headers": {"x-total": "{{ $string(total) }}", "set-cookie": "session=stolen"},
                                                                           "body": {"ok": true, "total": "{{ total }}"}}))],
                         "edges": [{"source": "in", "target": "total"}, {"source": "total", "target": "reply"}]}}),
    )
    .await;
    let r = app
        .api
        .post(&format!("/hook/{fid}"), None, &crate::support::order())
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("x-total"), Some("17"));
    assert_eq!(
        r.header("set-cookie"),
        None,
        "a flow cannot set cookies on the API's origin"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    assert_eq!(r.body, json!({"ok": true, "total": 17}));

    // ?sync=true on an async flow answers with the last step's data.
    let plain = started(app, &app.admin, recorder(json!({}))).await;
    let r = app
        .api
        .post(&format!("/hook/{plain}?sync=true"), None, &json!({"a": 1}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!({"a": 1}));
    assert_eq!(r.body["method"], "POST");
}

async fn sync_webhooks_answer_with_the_execution_result(app: &App) {
    a_sync_webhook_answers_with_its_respond_step(app).await;
    // Past the sync timeout: 202 with where to look.
    let slow = started(
        app,
        &app.admin,
        json!({"name": "slow", "flowSettings": {"webhooks": {"responseMode": "sync", "syncTimeoutMs": 300}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})), node("wait", "delay", "wait", json!({"ms": 1500}))],
                         "edges": [{"source": "in", "target": "wait"}]}}),
    )
    .await;
    let r = app.api.post(&format!("/hook/{slow}"), None, &json!({})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let rid = request_id(&r);
    assert_eq!(
        r.body,
        json!({"data": {"requestId": rid, "status": "running", "statusUrl": format!("/executions/{rid}")}})
    );
    let e = finished(app, &rid).await;
    assert_eq!(e["status"], "succeeded");

    // A failed sync execution without a respond step is a 500 that points at the execution.
    let failing = started(
        app,
        &app.admin,
        json!({"name": "failing", "flowSettings": {"webhooks": {"responseMode": "sync"}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                                   node("x", "transform", "map", json!({"expression": "$error(\"no\")"}))],
                         "edges": [{"source": "in", "target": "x"}]}}),
    )
    .await;
    let r = app.api.post(&format!("/hook/{failing}"), None, &json!({})).await;
    let rid = r.header("x-request-id").unwrap().to_owned();
    r.assert_error(500, &format!("Execution {rid} failed. See /executions/{rid}."));
}

async fn a_flow_over_its_rate_limit_gets_429_with_retry_after(app: &App) {
    // One token per 100 s: the burst is spent at once and the bucket cannot refill a token within the test, so
    // Retry-After is the 100 s the next token takes less the time the three requests took (under 10 s even on a
    // slow machine); timing can no longer decide the exact value.
    let fid = started(
        app,
        &app.admin,
        recorder(json!({"rateLimit": {"perSecond": 0.01, "burst": 2}})),
    )
    .await;
    let path = format!("/hook/{fid}");
    assert_eq!(app.api.post(&path, None, &json!({})).await.status, 200);
    assert_eq!(app.api.post(&path, None, &json!({})).await.status, 200);
    let r = app.api.post(&path, None, &json!({})).await;
    r.assert_error(429, "Too many requests for this flow. Try again later.");
    let retry_after = r.header("retry-after");
    let seconds: u64 = retry_after
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("retry-after must be a number of whole seconds, got {retry_after:?}"));
    assert!(
        (90..=100).contains(&seconds),
        "retry-after is the wait for the next token (100 s at 0.01/s, less the time since the burst), got {seconds}"
    );
}

crate::both_modes!(
    an_idempotency_key_repeat_gets_the_first_answer_and_starts_nothing,
    sync_webhooks_answer_with_the_execution_result,
    a_flow_over_its_rate_limit_gets_429_with_retry_after,
);
