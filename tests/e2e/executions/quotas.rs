//! Tenant quotas (API.md §12): a global admin sets them on the tenant; past `maxQueued` or the rate, the tenant's
//! webhooks and runs get `429` with `Retry-After` and nothing is accepted; it recovers once its queue drains; the
//! oldest finished executions past `maxStoredExecutions` are deleted; the tenant shows quota and usage. Both modes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{finished, member, node, tenant, wait_execution},
    webhooks::helpers::{post_raw, started},
};

/// A started webhook flow of `tenant`: a delay of `ms`, at most `concurrency` at once (`null`: no limit).
async fn hook_flow(app: &App, tenant: &str, ms: u64, concurrency: Value) -> String {
    let body = json!({"name": "quota", "tenant": tenant, "flowSettings": {"concurrency": concurrency},
        "graph": {"nodes": [node("in", "webhook", "receive", json!({})), node("wait", "delay", "wait", json!({"ms": ms}))],
                  "edges": [{"source": "in", "target": "wait"}]}});
    started(app, &app.admin, body).await
}

async fn set_quota(app: &App, tenant: &str, quota: Value) -> Value {
    let r = app
        .api
        .patch(
            &format!("/api/tenants/{tenant}"),
            Some(&app.admin),
            &json!({"quota": quota}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn usage(app: &App, tenant: &str) -> Value {
    let r = app
        .api
        .get(&format!("/api/tenants/{tenant}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["usage"].clone()
}

/// Polls the tenant's usage until `done` holds for it (45 s at most).
async fn wait_usage(app: &App, tenant: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let u = usage(app, tenant).await;
        if done(&u) {
            return u;
        }
        assert!(tokio::time::Instant::now() < deadline, "usage stayed {u}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hook(app: &App, fid: &str) -> flowmate_testkit::Reply {
    post_raw(app, &format!("/hook/{fid}"), Some("application/json"), "{}", &[]).await
}

async fn executions_of(app: &App, fid: &str) -> u64 {
    let r = app
        .api
        .get(
            &format!("/executions?filter[flowId]={fid}&page[size]=1"),
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["meta"]["total"].as_u64().unwrap()
}

fn assert_refused(r: &flowmate_testkit::Reply, limit: &str) {
    assert_eq!(r.status, 429, "{:?}", r.body);
    let secs: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    let message = r.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(limit), "{message}");
}

async fn past_max_queued_webhooks_and_runs_get_429_until_the_queue_drains(app: &App) {
    let t = tenant(app, "quota queued").await;
    let fid = hook_flow(app, &t, 1500, json!(1)).await;
    let body = set_quota(app, &t, json!({"maxQueued": 2})).await;
    assert_eq!(
        body["quota"],
        json!({"executionsPerMinute": null, "maxQueued": 2, "maxStoredExecutions": null})
    );
    assert_eq!(
        body["usage"],
        json!({"queued": 0, "running": 0, "executionsLastMinute": 0, "storedExecutions": 0})
    );
    // The first takes the flow's one slot; the next two wait for it, queued.
    let first = hook(app, &fid).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let first = first.body["data"]["requestId"].as_str().unwrap().to_owned();
    wait_execution(app, &app.admin, &first, |e| e["status"] == "running").await;
    for _ in 0..2 {
        let r = hook(app, &fid).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_refused(&hook(app, &fid).await, "2 executions queued at most");
    let run = app
        .api
        .post(&format!("/flows/{fid}/run"), Some(&app.admin), &json!({}))
        .await;
    assert_refused(&run, "2 executions queued at most");
    assert_eq!(executions_of(app, &fid).await, 3, "nothing refused was accepted");
    let u = usage(app, &t).await;
    assert_eq!(
        (u["queued"].as_u64(), u["running"].as_u64()),
        (Some(2), Some(1)),
        "{u}"
    );
    // Once the first finishes, one of those waiting starts and there is room again.
    finished(app, &first).await;
    wait_usage(app, &t, |u| u["queued"].as_u64() < Some(2)).await;
    let r = hook(app, &fid).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn past_the_rate_runs_and_webhooks_get_429_and_nothing_is_accepted(app: &App) {
    let t = tenant(app, "quota rate").await;
    let fid = hook_flow(app, &t, 1, Value::Null).await;
    set_quota(app, &t, json!({"executionsPerMinute": 2})).await;
    for _ in 0..2 {
        let r = app
            .api
            .post(&format!("/flows/{fid}/run"), Some(&app.admin), &json!({}))
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    }
    let run = app
        .api
        .post(&format!("/flows/{fid}/run"), Some(&app.admin), &json!({}))
        .await;
    assert_refused(&run, "2 executions per minute at most");
    assert_refused(&hook(app, &fid).await, "2 executions per minute at most");
    assert_eq!(executions_of(app, &fid).await, 2);
    assert_eq!(usage(app, &t).await["executionsLastMinute"], 2);
    // Removing the quota lets everything through again (the webhook service learns it within seconds).
    let body = set_quota(app, &t, Value::Null).await;
    assert_eq!(
        body["quota"],
        json!({"executionsPerMinute": null, "maxQueued": null, "maxStoredExecutions": null})
    );
    let r = app
        .api
        .post(&format!("/flows/{fid}/run"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
}

async fn the_oldest_finished_executions_past_max_stored_are_deleted(app: &App) {
    let t = tenant(app, "quota stored").await;
    let fid = hook_flow(app, &t, 1, Value::Null).await;
    set_quota(app, &t, json!({"maxStoredExecutions": 2})).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = hook(app, &fid).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(r.body["data"]["requestId"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        finished(app, id).await;
    }
    wait_usage(app, &t, |u| u["storedExecutions"] == 2).await;
    let newest = app
        .api
        .get(&format!("/executions/{}", ids[3]), Some(&app.admin))
        .await;
    assert_eq!(newest.status, 200, "the newest is kept: {:?}", newest.body);
}

async fn only_a_global_admin_sets_a_quota_and_bad_quotas_are_refused(app: &App) {
    let m = member(
        app,
        "quota rules",
        "quota-member@example.com",
        &["iam.tenant.update", "iam.tenant.read"],
    )
    .await;
    let t = m.tenant.clone();
    let r = app
        .api
        .patch(
            &format!("/api/tenants/{t}"),
            Some(&m.token),
            &json!({"quota": {"maxQueued": 5}}),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    for bad in [
        json!({"maxQueued": 0}),
        json!({"maxQueud": 1}),
        json!({"maxQueued": -1}),
        json!(7),
    ] {
        let r = app
            .api
            .patch(
                &format!("/api/tenants/{t}"),
                Some(&app.admin),
                &json!({"quota": bad}),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    // The member sees its own tenant's quota and usage, not another tenant's.
    let other = tenant(app, "quota other").await;
    let r = app
        .api
        .get(&format!("/api/tenants/{other}"), Some(&m.token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body.get("quota").is_none() && r.body.get("usage").is_none(),
        "{:?}",
        r.body
    );
    let r = app.api.get(&format!("/api/tenants/{t}"), Some(&m.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["quota"]["maxQueued"], Value::Null, "{:?}", r.body);
    assert_eq!(r.body["usage"]["queued"], 0, "{:?}", r.body);
}

crate::both_modes!(
    past_max_queued_webhooks_and_runs_get_429_until_the_queue_drains,
    past_the_rate_runs_and_webhooks_get_429_and_nothing_is_accepted,
    the_oldest_finished_executions_past_max_stored_are_deleted,
    only_a_global_admin_sets_a_quota_and_bad_quotas_are_refused,
);
