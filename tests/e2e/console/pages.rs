//! Every console page renders what it should, for the admin, a member and another tenant.

use serde_json::json;

use super::support::{create, finished, flow, hook_flow, member, started, webhook, Browser, MEMBER_PASSWORD};
use crate::harness::{App, ADMIN, ADMIN_PASSWORD};

async fn every_page_renders_for_the_admin_with_its_data(app: &App) {
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let id = started(
        app,
        &app.admin,
        &hook_flow("Orders in", "{\"total\": $sum(items.price)}"),
    )
    .await;
    let exec = webhook(app, &id, &json!({"items": [{"price": 3}, {"price": 4}]})).await;
    let e = finished(app, &app.admin, &exec).await;
    assert_eq!(e["status"], "succeeded");
    let t = app
        .api
        .post(
            "/templates",
            Some(&app.admin),
            &json!({"name": "Starter template",
            "graph": {"nodes": [{"id": "in", "componentId": "webhook", "function": "receive"}]}}),
        )
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);

    let flows = b.get("/console/flows").await;
    assert_eq!(flows.status, 200, "{}", flows.body);
    assert!(
        flows.body.contains("Orders in") && flows.body.contains("badge status-active"),
        "{}",
        flows.body
    );
    let detail = b.get(&format!("/console/flows/{id}")).await;
    assert_eq!(detail.status, 200);
    assert!(
        detail.body.contains(&format!("/hook/{id}</code>")),
        "webhook URL shown"
    );
    assert!(
        detail.body.contains("<svg") && detail.body.contains("node status-succeeded"),
        "graph coloured by the last run"
    );
    assert!(detail.body.contains(&exec), "recent executions list the run");
    let list = b.get("/console/executions").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains(&format!("data-execution-id=\"{exec}\" data-status=\"succeeded\"")),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("hx-trigger=\"every 2s\""),
        "the first page polls"
    );
    let filtered = b
        .get(&format!("/console/executions?flow={id}&status=failed"))
        .await;
    assert_eq!(filtered.status, 200);
    assert!(
        !filtered.body.contains(&format!("data-execution-id=\"{exec}\"")),
        "the status filter applies"
    );
    let one = b.get(&format!("/console/executions/{exec}")).await;
    assert_eq!(one.status, 200);
    assert!(
        one.body.contains("data-step-id=\"out\"") && one.body.contains("&#34;total&#34;: 7"),
        "{}",
        one.body
    );
    assert!(
        one.body.contains("id=\"retry-start\""),
        "a finished execution can be retried"
    );
    let templates = b.get("/console/templates").await;
    assert_eq!(templates.status, 200);
    assert!(templates.body.contains("Starter template"));
    let users = b.get("/console/users").await;
    assert_eq!(users.status, 200);
    assert!(users.body.contains(ADMIN));
    let tenants = b.get("/console/tenants").await;
    assert_eq!(tenants.status, 200);
    assert!(tenants.body.contains("(yours)"));
    let missing = b.get("/console/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Not found"));
}

async fn a_new_user_sees_empty_states_that_say_what_to_do(app: &App) {
    member(
        app,
        "empty-tenant",
        "new@example.com",
        &["flows.read", "executions.read", "templates.read"],
    )
    .await;
    let b = Browser::signed_in(app, "new@example.com", MEMBER_PASSWORD).await;
    let flows = b.get("/console/flows").await;
    assert_eq!(flows.status, 200);
    assert!(
        flows.body.contains("No flows yet") && flows.body.contains("data-copy=\"sample-create\""),
        "{}",
        flows.body
    );
    let executions = b.get("/console/executions").await;
    assert!(
        executions.body.contains("No executions yet"),
        "{}",
        executions.body
    );
    let templates = b.get("/console/templates").await;
    assert!(templates.body.contains("No templates yet"));
}

async fn start_stop_retry_cancel_and_generate_work_from_forms(app: &App) {
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let id = create(
        app,
        &app.admin,
        &flow(
            "Breaks",
            &[
                ("in", "webhook", "receive", json!({})),
                ("calc", "transform", "map", json!({"expression": "$nope(1)"})),
            ],
            &[("in", "calc")],
        ),
    )
    .await;
    let from = format!("/console/flows/{id}");
    let r = b
        .submit(&from, &format!("/console/flows/{id}/start"), &[("back", &from)])
        .await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, from.as_str()));
    super::support::wait_flow(app, &app.admin, &id, "active").await;
    let exec = webhook(app, &id, &json!({"a": 1})).await;
    assert_eq!(finished(app, &app.admin, &exec).await["status"], "failed");
    let page = format!("/console/executions/{exec}");
    let failed = b.get(&page).await;
    assert!(
        failed.body.contains("id=\"retry-failed\"") && failed.body.contains("ExpressionError"),
        "{}",
        failed.body
    );
    let r = b
        .submit(&page, &format!("{page}/retry"), &[("from", "failed")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let retried = r.header("location").to_owned();
    assert!(
        retried.starts_with("/console/executions/") && retried != page,
        "{retried}"
    );
    let new_id = retried.trim_start_matches("/console/executions/");
    assert_eq!(finished(app, &app.admin, new_id).await["status"], "failed");
    let r = b
        .submit(
            &from,
            &format!("/console/flows/{id}/stop"),
            &[("back", "/console/flows")],
        )
        .await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, "/console/flows"));
    super::support::wait_flow(app, &app.admin, &id, "inactive").await;
    // Cancelling a finished execution is the service's 409, shown as a page.
    let r = b.submit(&page, &format!("{page}/cancel"), &[]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let t = app
        .api
        .post(
            "/templates",
            Some(&app.admin),
            &json!({"name": "T",
            "graph": {"nodes": [{"id": "in", "componentId": "webhook", "function": "receive"}]}}),
        )
        .await;
    let tid = t.body["data"]["id"].as_str().unwrap().to_owned();
    let r = b
        .submit(
            "/console/templates",
            &format!("/console/templates/{tid}/generate"),
            &[("name", "Made here")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let made = b.get(r.header("location")).await;
    assert!(made.body.contains("Made here"), "{}", made.body);
}

async fn another_tenants_flows_and_executions_are_not_found_pages(app: &App) {
    let id = started(app, &app.admin, &hook_flow("Admin only", "data")).await;
    let exec = webhook(app, &id, &json!({"x": 1})).await;
    finished(app, &app.admin, &exec).await;
    member(
        app,
        "other",
        "other@example.com",
        &["flows.read", "flows.control", "executions.read"],
    )
    .await;
    let b = Browser::signed_in(app, "other@example.com", MEMBER_PASSWORD).await;
    let flows = b.get("/console/flows").await;
    assert_eq!(flows.status, 200);
    assert!(!flows.body.contains("Admin only"));
    let f = b.get(&format!("/console/flows/{id}")).await;
    assert_eq!(f.status, 404, "{}", f.body);
    assert!(f.body.contains("No flow found"), "{}", f.body);
    let e = b.get(&format!("/console/executions/{exec}")).await;
    assert_eq!(e.status, 404);
    let list = b.get("/console/executions").await;
    assert!(!list.body.contains(&exec));
    let r = b
        .submit("/console/flows", &format!("/console/flows/{id}/stop"), &[])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await;
    assert_eq!(
        r.body["data"]["status"], "active",
        "the other tenant's stop changed nothing"
    );
}

async fn a_member_without_a_permission_gets_a_403_page_and_no_menu_entry(app: &App) {
    let token = member(
        app,
        "readers",
        "reader@example.com",
        &["flows.read", "flows.write"],
    )
    .await;
    let id = create(app, &token, &hook_flow("Mine", "data")).await;
    let b = Browser::signed_in(app, "reader@example.com", MEMBER_PASSWORD).await;
    let r = b.get("/console/executions").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("does not have the permission"), "{}", r.body);
    let detail = b.get(&format!("/console/flows/{id}")).await;
    assert_eq!(detail.status, 200, "the flow shows without its executions");
    assert!(detail.body.contains("cannot read executions"));
    let users = b.get("/console/users").await;
    assert_eq!(users.status, 403);
    assert!(
        !detail.body.contains("href=\"/console/users\""),
        "no users entry for a member"
    );
}

async fn a_malformed_id_or_filter_is_a_400_page(app: &App) {
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    for path in [
        "/console/flows/bad%20id",
        "/console/executions?status=weird",
        "/console/executions?from=yesterday",
        "/console/executions?flow=a%3Cb",
        "/console/flows?status=on",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
    }
}

crate::both_modes!(
    every_page_renders_for_the_admin_with_its_data,
    a_new_user_sees_empty_states_that_say_what_to_do,
    start_stop_retry_cancel_and_generate_work_from_forms,
    another_tenants_flows_and_executions_are_not_found_pages,
    a_member_without_a_permission_gets_a_403_page_and_no_menu_entry,
    a_malformed_id_or_filter_is_a_400_page,
);
