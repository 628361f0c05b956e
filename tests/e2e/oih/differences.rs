//! The OIH differences of issue 19, resolved as API.md §1–§4 say: free `type` strings, `400 Invalid id` for
//! malformed ids (a UUID or 24 hex digits is well formed), trailing slashes, `stopping` for an inactive flow,
//! OIH's template messages and statuses, and the password minimum with its reason.

use serde_json::json;

use super::{create_flow, id_of, order_sync};
use crate::harness::App;

/// A template with one node.
fn template(status: &str, kind: &str) -> serde_json::Value {
    json!({"name": format!("{status} {kind}"), "status": status, "type": kind,
           "graph": {"nodes": [{"id": "in", "componentId": "webhook", "function": "receive"}]}})
}

async fn types_are_free_strings_as_in_oih(app: &App) {
    for kind in ["long-running", "flow", "ordinary"] {
        let mut body = order_sync(kind);
        body["type"] = json!(kind);
        let id = create_flow(app, &app.admin, body).await;
        let r = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await;
        assert_eq!(r.body["data"]["type"], kind);
    }
    let r = app
        .api
        .get("/flows?filter[type]=long-running", Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 1, "{:?}", r.body);
    assert_eq!(r.body["data"][0]["type"], "long-running");
    let mut body = order_sync("typed");
    body["type"] = json!(7);
    app.api
        .post("/flows", Some(&app.admin), &body)
        .await
        .assert_field_error(400, "type must be a string.", "/type");
    let r = app
        .api
        .post("/templates", Some(&app.admin), &template("draft", "template"))
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["data"]["type"]),
        (201, &json!("template")),
        "{:?}",
        r.body
    );
}

async fn malformed_ids_are_400_and_well_formed_unknown_ones_404(app: &App) {
    for path in [
        "/flows/SDSADGSDGH",
        "/templates/SDSADGSDGH",
        "/api/users/SDSADGSDGH",
        "/executions/SDSADGSDGH",
        "/api/roles/SDSADGSDGH",
        "/api/tenants/SDSADGSDGH",
        "/flows/0192f0a4-7c1e-7d3e-9a4b",
    ] {
        app.api
            .get(path, Some(&app.admin))
            .await
            .assert_error(400, "Invalid id");
    }
    let oih_id = "5f1e3c2b9d8a7f6e5d4c3b2a";
    app.api
        .get(&format!("/flows/{oih_id}"), Some(&app.admin))
        .await
        .assert_error(404, "No flow found");
    app.api
        .get(&format!("/templates/{oih_id}"), Some(&app.admin))
        .await
        .assert_error(404, "Template not found");
    app.api
        .get(&format!("/api/users/{oih_id}"), Some(&app.admin))
        .await
        .assert_error(404, "USER_NOT_FOUND");
}

async fn paths_match_with_a_trailing_slash(app: &App) {
    let id = create_flow(app, &app.admin, order_sync("slash")).await;
    for path in [
        "/flows",
        "/templates",
        "/api/users",
        "/api/v1/users/me",
        &format!("/flows/{id}"),
    ] {
        let plain = app.api.get(path, Some(&app.admin)).await;
        let slashed = app.api.get(&format!("{path}/"), Some(&app.admin)).await;
        assert_eq!(plain.status.as_u16(), 200, "{path}");
        assert_eq!(
            (slashed.status.as_u16(), &slashed.body),
            (200, &plain.body),
            "{path}/"
        );
    }
    let r = app
        .api
        .post("/flows/", Some(&app.admin), &order_sync("posted"))
        .await;
    assert_eq!(r.status.as_u16(), 201);
}

async fn stopping_an_inactive_flow_answers_stopping(app: &App) {
    let id = create_flow(app, &app.admin, order_sync("idle")).await;
    let r = app
        .api
        .post(&format!("/flows/{id}/stop"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": id, "status": "stopping"}, "meta": {}})
    );
    let r = app
        .api
        .post("/flows/multiple/stop", Some(&app.admin), &json!([id]))
        .await;
    assert_eq!(
        r.body,
        json!([{"data": {"id": id, "status": "stopping"}, "meta": {}}])
    );
    // Nothing to stop: it stays inactive and can be changed and deleted.
    let r = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await;
    assert_eq!(r.body["data"]["status"], "inactive");
    let r = app
        .api
        .patch(
            &format!("/flows/{id}"),
            Some(&app.admin),
            &json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
}

async fn templates_keep_oih_messages_and_statuses(app: &App) {
    let r = app
        .api
        .post("/templates", Some(&app.admin), &json!({"name": "no graph"}))
        .await;
    r.assert_field_error(400, "Flow Templates require a graph.", "/graph");
    let r = app
        .api
        .post("/templates", Some(&app.admin), &json!({"graph": {"nodes": []}}))
        .await;
    r.assert_field_error(400, "Flow Templates require at least one node.", "/graph/nodes");
    let live = app
        .api
        .post("/templates", Some(&app.admin), &template("live", "ordinary"))
        .await;
    assert_eq!(
        (live.status.as_u16(), &live.body["data"]["status"]),
        (201, &json!("live")),
        "{:?}",
        live.body
    );
    let draft = app
        .api
        .post("/templates", Some(&app.admin), &template("draft", "ordinary"))
        .await;
    assert_eq!(draft.status.as_u16(), 201);
    let r = app
        .api
        .get("/templates?filter[status]=draft", Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], draft.body["data"]["id"]);
    let path = format!("/templates/{}", id_of(&live.body["data"]));
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"status": "archived"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["data"]["status"]),
        (200, &json!("archived")),
        "{:?}",
        r.body
    );
    app.api
        .patch(&path, Some(&app.admin), &json!({"status": ["x"]}))
        .await
        .assert_field_error(400, "status must be a string.", "/status");
}

async fn the_password_minimum_stays_with_its_reason(app: &App) {
    let r = app
        .api
        .post(
            "/api/users",
            Some(&app.admin),
            &json!({"username": "short@example.com", "password": "1234567",
                                                       "firstname": "S", "lastname": "Hort"}),
        )
        .await;
    r.assert_errors(
        400,
        &[
            json!({"message": "INPUT_INVALID", "code": 400, "field": "/password",
                 "detail": "password must have at least 8 characters (a deliberate minimum: FlowMate accepts \
                            shorter passwords from no client, OIH's included)"}),
        ],
    );
}

crate::both_modes!(
    types_are_free_strings_as_in_oih,
    malformed_ids_are_400_and_well_formed_unknown_ones_404,
    paths_match_with_a_trailing_slash,
    stopping_an_inactive_flow_answers_stopping,
    templates_keep_oih_messages_and_statuses,
    the_password_minimum_stays_with_its_reason,
);
