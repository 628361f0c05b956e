//! Fair scheduling between tenants (API.md §12): a tenant with thousands of queued triggers does not hold up
//! another tenant's run, in both modes. Not timed: it counts how far the flood got while the other run went through.

use flowmate_domain::{execution::work_shard, Envelope, Id};
use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, node, run, started, tenant},
};

/// Triggers tenant A has queued when tenant B's run starts.
const FLOOD: usize = 5000;

/// How many more of A's executions may be recorded while B's run goes through. B's trigger waits for one free slot
/// of the worker (128 by default), but while it runs, A's executions keep every other slot busy and finish at the
/// rate the machine allows: a few rounds of the slots. First in, first out, it would be all of A's backlog.
const BOUND: u64 = 1000;

/// A started two-step flow of `tenant`.
async fn flow_of(app: &App, tenant: &str, name: &str) -> String {
    let mut body = flow(
        name,
        vec![
            node("start", "manual", "run", json!({})),
            node("map", "transform", "map", json!({"expression": "{\"n\": n + 1}"})),
        ],
        vec![edge("start", "map")],
    );
    body["tenant"] = json!(tenant);
    started(app, &app.admin, body).await
}

/// How many executions flow `fid` has recorded.
async fn recorded(app: &App, fid: &str) -> u64 {
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

/// A webhook-like trigger of flow `fid` of `tenant`, straight onto the work queue.
fn trigger(tenant: &str, fid: &str, n: usize) -> Envelope {
    let id = Id::new().into_string();
    let item = json!({"executionId": id, "flowId": fid, "trigger": {"type": "webhook", "requestId": id},
                      "message": {"id": id, "data": {"n": n}, "headers": {}, "metadata": {}}});
    Envelope::new("flow.execute", "test", item).with_tenant(tenant)
}

async fn a_tenants_run_goes_through_while_another_tenant_has_thousands_queued(app: &App) {
    let a = tenant(app, "flooder").await;
    // Two tenants of one shard share its queue; take a B of another shard.
    let mut b = tenant(app, "bystander").await;
    for n in 0.. {
        if work_shard(&b) != work_shard(&a) {
            break;
        }
        assert!(n < 32, "no tenant of another shard");
        b = tenant(app, &format!("bystander {n}")).await;
    }
    let flow_a = flow_of(app, &a, "flood").await;
    let flow_b = flow_of(app, &b, "bystander").await;
    let triggers: Vec<Envelope> = (0..FLOOD).map(|n| trigger(&a, &flow_a, n)).collect();
    for batch in triggers.chunks(500) {
        app.bus.publish_batch(batch).await.unwrap();
    }
    let before = recorded(app, &flow_a).await;
    let id = run(app, &app.admin, &flow_b, json!({"n": 1})).await;
    let e: Value = finished(app, &id).await;
    let after = recorded(app, &flow_a).await;
    eprintln!("A's executions recorded: {before} when B's run started, {after} when it finished, of {FLOOD}");
    assert_eq!(e["status"], "succeeded", "{e}");
    assert!(
        after < FLOOD as u64,
        "A's flood had not drained when B's run finished ({after} of {FLOOD} recorded)"
    );
    assert!(
        after - before <= BOUND,
        "B's run waited for {} of A's executions (from {before} to {after})",
        after - before
    );
}

crate::both_modes!(a_tenants_run_goes_through_while_another_tenant_has_thousands_queued,);
