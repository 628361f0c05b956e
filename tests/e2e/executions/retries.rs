//! Retrying an execution (from the start or from its failed steps) and cancelling one (API.md §5, beyond).

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, node, run, started, step_list, steps, wait_execution},
};

/// `POST /executions/{id}/retry` with `from`.
async fn retry(app: &App, id: &str, from: &str) -> flowmate_testkit::Reply {
    app.api
        .post(
            &format!("/executions/{id}/retry"),
            Some(&app.admin),
            &json!({"from": from}),
        )
        .await
}

/// A flow that fails unless its `v` + 1 is over 2.
fn picky() -> Value {
    flow(
        "retry me",
        vec![
            node("start", "manual", "run", json!({})),
            node("ok", "transform", "map", json!({"expression": "{\"v\": v + 1}"})),
            node(
                "check",
                "transform",
                "map",
                json!({"expression": "v > 2 ? {\"v\": v} : $error(\"too small\")"}),
            ),
        ],
        vec![edge("start", "ok"), edge("ok", "check")],
    )
}

async fn a_failed_execution_is_retried_from_the_start_or_from_its_failed_steps(app: &App, fid: &str) {
    let first = run(app, &app.admin, fid, json!({"v": 1})).await;
    let e = finished(app, &first).await;
    assert_eq!(e["status"], "failed");
    let r = retry(app, &first, "start").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "queued");
    assert_eq!(
        r.body["data"]["trigger"],
        json!({"type": "retry", "retryOf": first})
    );
    let again = finished(app, r.body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "failed");
    assert_eq!(
        again["steps"][0]["output"],
        json!({"v": 1}),
        "the same trigger message"
    );

    let r = retry(app, &first, "failed").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let resumed = finished(app, r.body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(
        steps(&resumed),
        step_list(&[("check", "failed", 1)]),
        "only the failed step runs again"
    );
    retry(app, &first, "middle")
        .await
        .assert_error(400, "Invalid from: use \"start\" or \"failed\"");
}

async fn a_finished_execution_is_neither_retried_from_failed_steps_nor_cancelled(app: &App, fid: &str) {
    let ok = run(app, &app.admin, fid, json!({"v": 5})).await;
    assert_eq!(finished(app, &ok).await["status"], "succeeded");
    retry(app, &ok, "failed").await.assert_error(
        409,
        "Only a failed execution can be retried from its failed steps.",
    );
    app.api
        .post(&format!("/executions/{ok}/cancel"), Some(&app.admin), &json!({}))
        .await
        .assert_error(409, "Execution is already succeeded.");
}

async fn a_parked_execution_is_cancelled(app: &App) {
    let slow = started(
        app,
        &app.admin,
        flow(
            "slow",
            vec![
                node("start", "manual", "run", json!({})),
                node("wait", "delay", "wait", json!({"ms": 600000})),
            ],
            vec![edge("start", "wait")],
        ),
    )
    .await;
    let parked = run(app, &app.admin, &slow, json!({})).await;
    wait_execution(app, &app.admin, &parked, |e| e["waitingUntil"].is_string()).await;
    let r = app
        .api
        .post(
            &format!("/executions/{parked}/cancel"),
            Some(&app.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "cancelled");
    assert_eq!(r.body["data"]["error"]["name"], "Cancelled");
    let r = app
        .api
        .get(&format!("/executions/{parked}"), Some(&app.admin))
        .await;
    assert_eq!(r.body["data"]["status"], "cancelled");
    assert!(r.body["data"].get("waitingUntil").is_none());
}

async fn executions_can_be_retried_and_cancelled(app: &App) {
    let fid = started(app, &app.admin, picky()).await;
    a_failed_execution_is_retried_from_the_start_or_from_its_failed_steps(app, &fid).await;
    a_finished_execution_is_neither_retried_from_failed_steps_nor_cancelled(app, &fid).await;
    a_parked_execution_is_cancelled(app).await;
}

crate::both_modes!(executions_can_be_retried_and_cancelled);
