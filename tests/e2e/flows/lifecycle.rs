//! Bulk creates and patches, and the status machine: starts and stops confirmed by the execution service, failed
//! starts, and starting or stopping many flows at once.

use flowmate_domain::Envelope;
use serde_json::{json, Value};

use super::helpers::{create, id, order_sync, MISSING};
use crate::{harness::App, support::wait_flow};

async fn arrays_and_bulk_patches_give_one_result_per_item(app: &App) {
    let r = app
        .api
        .post(
            "/flows",
            Some(&app.admin),
            &json!([order_sync("one"), {"name": "broken"}, order_sync("three")]),
        )
        .await;
    assert_eq!(r.status, 201);
    let items = r.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["name"], "one");
    assert_eq!(
        items[1],
        json!({"errors": [{"message": "Flows require a graph.", "code": 400, "field": "/graph"}]})
    );
    assert_eq!(items[2]["name"], "three");
    let (a, c) = (id(&items[0]), id(&items[2]));
    app.api
        .post(&format!("/flows/{c}/start"), Some(&app.admin), &json!({}))
        .await;
    let body = json!([{"id": a, "name": "one v2"}, {"id": MISSING, "name": "ghost"}, {"id": c, "name": "busy"},
                      {"name": "no id"}]);
    let r = app.api.patch("/flows/bulk", Some(&app.admin), &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["name"], "one v2");
    assert_eq!(
        items[1],
        json!({"errors": [{"message": "No flow found", "code": 404, "flowId": MISSING}]})
    );
    // The start may or may not have been confirmed yet.
    let busy = |status: &str| {
        json!({"errors": [{"message": format!("Flow is not inactive. Current status: {status}"), "code": 409,
                           "flowId": c}]})
    };
    assert!(
        items[2] == busy("starting") || items[2] == busy("active"),
        "{}",
        items[2]
    );
    assert_eq!(
        items[3],
        json!({"errors": [{"message": "Invalid id", "code": 400, "flowId": ""}]})
    );
    assert_eq!(
        app.api.get(&format!("/flows/{c}"), Some(&app.admin)).await.body["data"]["name"],
        "three",
        "skipped"
    );
}

async fn the_status_machine_runs_with_the_execution_services_confirmations(app: &App) {
    let f = create(app, &app.admin, order_sync("lifecycle")).await;
    let fid = id(&f);
    let path = format!("/flows/{fid}");
    let r = app
        .api
        .post(&format!("{path}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"data": {"id": fid, "status": "starting"}, "meta": {}})
    );
    wait_flow(app, &app.admin, &fid, "active").await;
    let active = "Flow is not inactive. Current status: active";
    app.api
        .patch(&path, Some(&app.admin), &json!({"name": "x"}))
        .await
        .assert_error(409, active);
    let r = app
        .api
        .post(&format!("{path}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": fid, "status": "active"}, "meta": {}}),
        "starting an active flow changes nothing"
    );
    app.api
        .delete(&path, Some(&app.admin))
        .await
        .assert_error(409, active);
    let r = app
        .api
        .post(&format!("{path}/stop"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": fid, "status": "stopping"}, "meta": {}})
    );
    wait_flow(app, &app.admin, &fid, "inactive").await;
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"msg": "Flow was successfully deleted"}));
    app.api
        .get(&path, Some(&app.admin))
        .await
        .assert_error(404, "No flow found");
}

/// A flow whose second step names a component that does not exist, so its start fails.
fn doomed(name: &str) -> Value {
    let mut doomed = order_sync(name);
    doomed["graph"]["nodes"][1]["componentId"] = json!("log2");
    doomed
}

const DOOMED_REASON: &str = "node step_2: unknown component \"log2\" with function \"write\"";

/// Creates and starts a doomed flow; returns its id once the failed start left it inactive with its reason.
async fn failed_start(app: &App, name: &str) -> String {
    let fid = id(&create(app, &app.admin, doomed(name)).await);
    app.api
        .post(&format!("/flows/{fid}/start"), Some(&app.admin), &json!({}))
        .await;
    let g = wait_flow(app, &app.admin, &fid, "inactive").await;
    assert_eq!(
        g["statusReason"], DOOMED_REASON,
        "the reason stays until the next start"
    );
    fid
}

async fn a_failed_start_ends_inactive_with_its_reason(app: &App) {
    let fid = failed_start(app, "doomed").await;
    // A duplicate of the execution service's verdict is applied once.
    let failure = Envelope::new(
        "flow.failed",
        "test/execution",
        json!({"flowId": fid, "reason": "a late duplicate"}),
    );
    app.bus.publish(&failure).await.unwrap();
    // The sentinel: another failed start, whose `flow.failed` reaches the flow repository after the duplicate.
    failed_start(app, "doomed too").await;
    let g = app.api.get(&format!("/flows/{fid}"), Some(&app.admin)).await.body["data"].clone();
    assert_eq!(
        g["status"], "inactive",
        "a failure for a flow that is not starting changes nothing"
    );
    assert_eq!(g["statusReason"], DOOMED_REASON);
    let r = app
        .api
        .post(&format!("/flows/{fid}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": fid, "status": "starting"}, "meta": {}})
    );
}

async fn multiple_start_and_stop_answer_per_id(app: &App) {
    let (a, b) = (
        id(&create(app, &app.admin, order_sync("a")).await),
        id(&create(app, &app.admin, order_sync("b")).await),
    );
    let r = app
        .api
        .post(
            "/flows/multiple/start",
            Some(&app.admin),
            &json!([a, "bad$id", MISSING, b]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            {"data": {"id": a, "status": "starting"}, "meta": {}},
            {"errors": [{"message": "Invalid id", "code": 400, "flowId": "bad$id"}]},
            {"errors": [{"message": "No flow with this ID found", "code": 404, "flowId": MISSING}]},
            {"data": {"id": b, "status": "starting"}, "meta": {}},
        ])
    );
    let r = app
        .api
        .post("/flows/multiple/stop", Some(&app.admin), &json!([a]))
        .await;
    assert_eq!(
        r.body,
        json!([{"data": {"id": a, "status": "stopping"}, "meta": {}}])
    );
    app.api
        .post("/flows/multiple/stop", Some(&app.admin), &json!({"ids": [a]}))
        .await
        .assert_error(400, "No flow ids given. Expecting an array of flow ids");
}

crate::both_modes!(
    arrays_and_bulk_patches_give_one_result_per_item,
    the_status_machine_runs_with_the_execution_services_confirmations,
    a_failed_start_ends_inactive_with_its_reason,
    multiple_start_and_stop_answer_per_id,
);
