//! Crash recovery and duplicates: a redelivered trigger continues from its checkpoint, and one execution id runs
//! once however often its trigger arrives.
//!
//! Where a test asserts that a message changed nothing, it first passes a [`Sentinel`]: the message was queued
//! before the sentinel's trigger, so it has been taken once the sentinel's execution has finished.

use std::sync::atomic::Ordering;

use flowmate_domain::Envelope;
use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, is_final, node, started, step_list, steps, target, Sentinel},
};

/// Writes what a worker that crashed after checkpointing step `call` of flow `fid` leaves behind: the running
/// execution `id` owned by `redelivered`, with its first two steps recorded.
async fn seed_checkpoint(app: &App, fid: &str, id: &str, redelivered: &Envelope, called: &Value) {
    let message = &redelivered.data["message"];
    let state = json!({
        "tasks": [{"node": "after", "msg": {"id": id, "data": called, "attachments": {}, "headers": {}, "metadata": {}}, "attempt": 1}],
        "outputs": {"start": {"n": 1}, "call": called}, "seq": 2,
        "counters": {"started": 2, "succeeded": 2, "errors": 0},
    });
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.executions_db()).await.unwrap();
    let tenant = app.api.get(&format!("/flows/{fid}"), Some(&app.admin)).await.body["data"]["tenant"].clone();
    let now = flowmate_domain::time::now_string();
    sqlx::query(
        "INSERT INTO executions (id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, counters, \
         message, state, owner, generation) VALUES ($1, $2, 1, $3, 'u', 'running', $4, $5, $6, $7, $8, $9, 0)",
    )
    .bind(id)
    .bind(fid)
    .bind(tenant.as_str().unwrap())
    .bind(json!({"type": "manual"}).to_string())
    .bind(&now)
    .bind(json!({"started": 2, "succeeded": 2, "errors": 0}).to_string())
    .bind(message.to_string())
    .bind(state.to_string())
    .bind(&redelivered.id)
    .execute(&pool)
    .await
    .unwrap();
    for (seq, step, component, function, output) in [
        (1, "start", "manual", "run", json!({"n": 1})),
        (2, "call", "http", "request", called.clone()),
    ] {
        sqlx::query(
            "INSERT INTO execution_steps (execution_id, seq, step_id, component_id, function, status, attempt, \
             started_at, finished_at, output) VALUES ($1, $2, $3, $4, $5, 'succeeded', 1, $6, $6, $7)",
        )
        .bind(id)
        .bind(seq as i64)
        .bind(step)
        .bind(component)
        .bind(function)
        .bind(&now)
        .bind(output.to_string())
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

/// The number of executions of flow `fid`.
async fn total(app: &App, fid: &str) -> Value {
    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["meta"]["total"].clone()
}

/// The number of steps execution `id` recorded.
async fn step_count(app: &App, id: &str) -> usize {
    let e = app
        .api
        .get(&format!("/executions/{id}"), Some(&app.admin))
        .await
        .body["data"]
        .clone();
    e["steps"].as_array().unwrap().len()
}

async fn a_redelivered_trigger_resumes_from_its_checkpoint_without_repeating_steps(app: &App) {
    let t = target().await;
    let sentinel = Sentinel::new(app).await;
    let fid = started(
        app,
        &app.admin,
        flow(
            "once only",
            vec![
                node("start", "manual", "run", json!({})),
                node(
                    "call",
                    "http",
                    "request",
                    json!({"url": format!("{}/count", t.base)}),
                ),
                node(
                    "after",
                    "transform",
                    "map",
                    json!({"expression": "{\"call\": $steps.call.body.call}"}),
                ),
            ],
            vec![edge("start", "call"), edge("call", "after")],
        ),
    )
    .await;
    // A worker crashed after `call` was checkpointed and before it finished: the execution row holds the checkpoint
    // and the trigger is redelivered.
    let id = flowmate_domain::Id::new().into_string();
    let message = json!({"id": id, "data": {"n": 1}, "attachments": {}, "headers": {}, "metadata": {}});
    let item = json!({"executionId": id, "flowId": fid, "trigger": {"type": "manual"}, "message": message});
    let redelivered = Envelope::new("flow.execute", "test", item);
    let called = json!({"status": 200, "headers": {}, "body": {"call": 1}});
    seed_checkpoint(app, &fid, &id, &redelivered, &called).await;
    app.bus.publish(&redelivered).await.unwrap();
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        steps(&e),
        step_list(&[
            ("start", "succeeded", 1),
            ("call", "succeeded", 1),
            ("after", "succeeded", 1)
        ])
    );
    assert_eq!(e["steps"][2]["output"], json!({"call": 1}));
    assert_eq!(
        t.calls.load(Ordering::SeqCst),
        0,
        "the checkpointed call was not repeated"
    );
    // The same trigger again, after it finished: nothing new.
    app.bus.publish(&redelivered).await.unwrap();
    sentinel.pass(app).await;
    assert_eq!(step_count(app, &id).await, 3);
    assert_eq!(total(app, &fid).await, 1, "one execution per request id");
    assert_eq!(t.calls.load(Ordering::SeqCst), 0, "nor was it called again");

    // A trigger sent twice with the same execution id (a client retrying with its request id) runs once.
    let fresh = flowmate_domain::Id::new().into_string();
    let item = json!({"executionId": fresh, "flowId": fid, "trigger": {"type": "webhook", "requestId": fresh},
                      "message": {"id": fresh, "data": {}, "headers": {}, "metadata": {}}});
    let first = Envelope::new("flow.execute", "test", item.clone());
    let second = Envelope::new("flow.execute", "test", item);
    app.bus.publish_batch(&[first, second]).await.unwrap();
    let e = finished(app, &fresh).await;
    assert_eq!(e["status"], "succeeded");
    sentinel.pass(app).await;
    assert_eq!(t.calls.load(Ordering::SeqCst), 1, "called once");
    assert_eq!(step_count(app, &fresh).await, 3);
    assert_eq!(total(app, &fid).await, 2);
}

/// A manual flow without outside effects that doubles `n`.
fn pure(name: &str) -> Value {
    flow(
        name,
        vec![
            node("start", "manual", "run", json!({})),
            node(
                "double",
                "transform",
                "map",
                json!({"expression": "{\"n\": n * 2}"}),
            ),
        ],
        vec![edge("start", "double")],
    )
}

/// A trigger of flow `flow_id` under execution id `id`, as a webhook with that request id would send it.
fn trigger(id: &str, flow_id: &str) -> Envelope {
    let item = json!({"executionId": id, "flowId": flow_id, "trigger": {"type": "webhook", "requestId": id},
           "message": {"id": id, "data": {"n": 21}, "attachments": {}, "headers": {}, "metadata": {}}});
    Envelope::new("flow.execute", "test", item)
}

/// Polls flow `fid`'s executions until its newest one is final (30 s at most); returns it.
async fn first_final_execution(app: &App, fid: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = app
            .api
            .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
            .await;
        assert_eq!(r.status, 200);
        if let Some(e) = r.body["data"]
            .as_array()
            .and_then(|l| l.first())
            .filter(|e| is_final(e))
        {
            return e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no execution of flow {fid}: {:?}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A flow without outside effects is recorded once, finished: the engine learns that an execution id is taken only
/// when it writes.
async fn a_flow_without_outside_effects_runs_once_per_execution_id(app: &App) {
    let sentinel = Sentinel::new(app).await;
    let fid = started(app, &app.admin, pure("pure")).await;
    let id = flowmate_domain::Id::new().into_string();
    // Two messages with the same execution id (a client retrying with its request id), then the first again (a
    // redelivery after it finished): one execution, its steps once.
    let first = trigger(&id, &fid);
    app.bus
        .publish_batch(&[first.clone(), trigger(&id, &fid)])
        .await
        .unwrap();
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["steps"][1]["output"], json!({"n": 42}), "{e}");
    app.bus.publish(&first).await.unwrap();
    sentinel.pass(app).await;
    assert_eq!(total(app, &fid).await, 1);
    let e = finished(app, &id).await;
    assert_eq!(
        steps(&e),
        step_list(&[("start", "succeeded", 1), ("double", "succeeded", 1)])
    );

    // The same id for another flow (a caller-chosen request id): that trigger runs under an id of its own, its
    // message's id, so a redelivery of that message finds it instead of running again.
    let other = started(app, &app.admin, pure("pure too")).await;
    let theirs_message = trigger(&id, &other);
    app.bus.publish(&theirs_message).await.unwrap();
    let theirs = first_final_execution(app, &other).await;
    assert_eq!(theirs["id"], theirs_message.id.as_str());
    assert_eq!(theirs["status"], "succeeded", "{theirs}");
    assert_eq!(theirs["trigger"]["requestId"], id.as_str());
    app.bus.publish(&theirs_message).await.unwrap();
    sentinel.pass(app).await;
    assert_eq!(total(app, &other).await, 1);
    let mine = finished(app, &id).await;
    assert_eq!(mine["flowId"], fid.as_str(), "the first execution is untouched");
    assert_eq!(mine["steps"][1]["output"], json!({"n": 42}));
}

crate::both_modes!(
    a_redelivered_trigger_resumes_from_its_checkpoint_without_repeating_steps,
    a_flow_without_outside_effects_runs_once_per_execution_id,
);
