//! `/flows` (API.md §3) through the gateway: CRUD, validation, scope, permissions, bulk operations and the status
//! machine, with the execution service confirming starts and stops.

use std::time::Duration;

use flowmate_domain::Envelope;
use serde_json::{json, Value};

use crate::harness::App;

fn flow(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Sync orders",
        "graph": {
            "nodes": [
                {"id": "step_1", "componentId": "webhook", "function": "receive"},
                {"id": "step_2", "componentId": "log", "function": "write", "fields": {"level": "info"}}
            ],
            "edges": [{"source": "step_1", "target": "step_2"}]
        }
    })
}

async fn create(app: &App, token: &str, body: Value) -> Value {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A member of a new tenant holding exactly `permissions`, logged in; returns (token, user id, tenant id).
async fn member(app: &App, tenant: &str, username: &str, permissions: &[&str]) -> (String, String, String) {
    let t = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": tenant}))
        .await;
    let tenant_id = t.body["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| tenant.to_owned());
    let user = app
        .create_user(
            json!({"username": username, "password": "member-password", "firstname": "M", "lastname": "E",
                            "tenant": tenant_id, "permissions": permissions}),
        )
        .await;
    (
        app.api.login(username, "member-password").await,
        id(&user),
        tenant_id,
    )
}

const ALL_FLOW_PERMISSIONS: &[&str] = &["flows.read", "flows.write", "flows.control", "flows.bulk"];

/// Polls the flow until it reads `status` (30 s at most: the confirmation goes through the bus and the execution
/// service, which a loaded machine can hold up); returns it as soon as it does.
async fn wait_status(app: &App, flow_id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let last = app
            .api
            .get(&format!("/flows/{flow_id}"), Some(&app.admin))
            .await
            .body["data"]
            .clone();
        if last["status"] == status {
            return last;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("flow {flow_id} never became {status} within 30 s: {last}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn creating_a_flow_returns_201_with_owners_version_and_defaults(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let f = create(app, &app.admin, flow("Order sync")).await;
    assert_eq!(f["name"], "Order sync");
    assert_eq!(f["status"], "inactive");
    assert_eq!(f["type"], "ordinary");
    assert_eq!(f["version"], 1);
    assert_eq!(f["tenant"], me["tenant"]);
    assert_eq!(
        f["owners"],
        json!([{"id": me["id"], "type": "user"}, {"id": me["tenant"], "type": "tenant"}])
    );
    assert_eq!(f["graph"]["nodes"][1]["fields"], json!({"level": "info"}));
    assert_eq!(f["graph"]["nodes"][0]["fields"], json!({}));
    assert_eq!(f["flowSettings"], json!({}));
    assert!(f["createdAt"].as_str().unwrap().ends_with('Z'));
    let r = app.api.get(&format!("/flows/{}", id(&f)), Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"data": f, "meta": {}}));
}

async fn an_invalid_flow_is_400_listing_every_problem(app: &App) {
    let body = json!({"status": "active", "cron": "sometimes", "owners": [{"type": "user"}],
        "graph": {"nodes": [{"id": "a", "componentId": "webhook", "function": "receive"}, {"id": "a"}],
                  "edges": [{"source": "a", "target": "nowhere"}]}});
    let r = app.api.post("/flows", Some(&app.admin), &body).await;
    assert_eq!(r.status, 400);
    let errors: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "/graph/nodes/1/id",
            "/graph/nodes/1/componentId",
            "/graph/nodes/1/function",
            "/graph/edges/0/target",
            "/owners/0/id",
            "/status",
            "/cron"
        ]
    );
    assert!(
        errors
            .iter()
            .any(|(_, m)| m
                == "Flow status cannot be set manually. Use the flow start/stop end points instead.")
    );
    assert!(r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["code"] == 400));
    let r = app
        .api
        .post("/flows", Some(&app.admin), &json!({"name": "no graph"}))
        .await;
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Flows require a graph.", "code": 400, "field": "/graph"}]})
    );
}

async fn unknown_and_malformed_ids_are_404_and_400(app: &App) {
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let r = app.api.get(&format!("/flows/{missing}"), Some(&app.admin)).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "No flow found", "code": 404}]})
    );
    for (method, path) in [
        ("GET", "/flows/bad$id"),
        ("DELETE", "/flows/bad$id"),
        ("POST", "/flows/bad$id/start"),
    ] {
        let request = app.api.request(method.parse().unwrap(), path, Some(&app.admin));
        let r = app.api.send(request).await;
        assert_eq!(r.status, 400, "{method} {path}");
        assert_eq!(r.error(), "Invalid id");
    }
    let r = app
        .api
        .post(&format!("/flows/{missing}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), "No flow with this ID found");
}

async fn patch_merges_top_level_fields_revalidates_and_bumps_the_version(app: &App) {
    let f = create(app, &app.admin, flow("Before")).await;
    let path = format!("/flows/{}", id(&f));
    let r = app
        .api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"name": "After", "id": "ignored", "createdAt": "x",
        "flowSettings": {"webhooks": {"requireWebhookAuth": false}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let g = &r.body["data"];
    assert_eq!(g["id"], f["id"], "a body id is ignored");
    assert_eq!(g["name"], "After");
    assert_eq!(g["description"], "Sync orders", "keys not in the patch are kept");
    assert_eq!(g["graph"], f["graph"]);
    assert_eq!(g["createdAt"], f["createdAt"]);
    assert_eq!(g["version"], 2);
    assert_eq!(g["flowSettings"]["webhooks"]["requireWebhookAuth"], false);
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"graph": {"nodes": []}}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "Flows require at least one node.");
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"status": "active"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        app.api.get(&path, Some(&app.admin)).await.body["data"]["version"],
        2,
        "failed patches change nothing"
    );
}

async fn lists_page_filter_sort_and_search_with_a_matching_total(app: &App) {
    let mut ids = Vec::new();
    for name in ["alpha", "Bravo 50% off", "charlie", "delta", "echo"] {
        ids.push(id(&create(app, &app.admin, flow(name)).await));
    }
    let r = app
        .api
        .get("/flows?page[size]=2&page[number]=2", Some(&app.admin))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["meta"],
        json!({"total": 5, "page": 2, "perPage": 2, "totalPages": 3})
    );
    assert_eq!(
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        ids[2..4]
    );
    let r = app
        .api
        .get("/flows?sort=-name&page[size]=1", Some(&app.admin))
        .await;
    assert_eq!(r.body["data"][0]["name"], "echo");
    let r = app.api.get("/flows?search=BRAVO%2050%25", Some(&app.admin)).await;
    assert_eq!(
        r.body["meta"]["total"], 1,
        "search is case-insensitive and literal"
    );
    let r = app.api.get("/flows?search=%25", Some(&app.admin)).await;
    assert_eq!(r.body["meta"]["total"], 1, "% is not a wildcard");
    let r = app
        .api
        .get("/flows?filter[status]=inactive", Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 5);
    let r = app.api.get("/flows?filter[status]=1", Some(&app.admin)).await;
    assert_eq!(r.body["meta"]["total"], 0);
    for bad in [
        "filter[status]=running",
        "filter[type]=weird",
        "sort=size",
        "sort=--name",
        "page[size]=0",
        "filter[user]=bad$id",
        "filter[fromTemplate]=bad$id",
    ] {
        let r = app.api.get(&format!("/flows?{bad}"), Some(&app.admin)).await;
        assert_eq!(r.status, 400, "{bad}");
        let param = bad.split('=').next().unwrap().split('[').next().unwrap();
        assert!(r.error().contains(param), "{bad}: {}", r.error());
    }
}

async fn a_tenant_sees_and_changes_only_its_own_flows(app: &App) {
    let mine = create(app, &app.admin, flow("admin's")).await;
    let (token, user, tenant) = member(app, "acme", "dev@acme.test", ALL_FLOW_PERMISSIONS).await;
    let theirs = create(app, &token, flow("acme's")).await;
    assert_eq!(theirs["tenant"], tenant.as_str());
    let r = app.api.get("/flows", Some(&token)).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], theirs["id"]);
    let other = format!("/flows/{}", id(&mine));
    assert_eq!(app.api.get(&other, Some(&token)).await.status, 404);
    assert_eq!(
        app.api
            .patch(&other, Some(&token), &json!({"name": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(app.api.delete(&other, Some(&token)).await.status, 404);
    assert_eq!(
        app.api
            .post(&format!("{other}/start"), Some(&token), &json!({}))
            .await
            .status,
        404
    );
    // filter[user] narrows within scope and never widens it.
    let admin_id = app.api.get("/api/users/me", Some(&app.admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .api
        .get(&format!("/flows?filter[user]={admin_id}"), Some(&token))
        .await;
    assert_eq!(r.body["meta"]["total"], 0);
    let r = app
        .api
        .get(&format!("/flows?filter[user]={user}"), Some(&token))
        .await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(
        app.api
            .post(&format!("{other}/stop"), Some(&token), &json!({}))
            .await
            .status,
        404
    );
    let r = app
        .api
        .post("/flows/multiple/start", Some(&token), &json!([id(&mine)]))
        .await;
    assert_eq!(r.body[0]["errors"][0]["code"], 404);
    let r = app
        .api
        .patch(
            "/flows/bulk",
            Some(&token),
            &json!([{"id": id(&mine), "name": "hijacked"}]),
        )
        .await;
    assert_eq!(r.body["data"][0]["errors"][0]["code"], 404);
    assert_eq!(
        app.api.get(&other, Some(&app.admin)).await.body["data"]["name"],
        "admin's"
    );
    // The admin sees both.
    assert_eq!(
        app.api.get("/flows", Some(&app.admin)).await.body["meta"]["total"],
        2
    );
    // Giving a flow to another tenant is refused.
    let mut foreign = flow("sneaky");
    foreign["owners"] = json!([{"id": "some-other-tenant", "type": "tenant"}]);
    assert_eq!(app.api.post("/flows", Some(&token), &foreign).await.status, 403);
}

async fn each_flow_endpoint_checks_its_permission(app: &App) {
    let (reader, _, _) = member(app, "readers", "reader@example.com", &["flows.read"]).await;
    let f = create(app, &app.admin, flow("x")).await;
    let r = app.api.post("/flows", Some(&reader), &flow("y")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "MISSING_PERMISSION", "code": 403}]})
    );
    let (writer, _, _) = member(
        app,
        "writers",
        "writer@example.com",
        &["flows.read", "flows.write"],
    )
    .await;
    let own = create(app, &writer, flow("mine")).await;
    let path = format!("/flows/{}", id(&own));
    assert_eq!(
        app.api
            .post(&format!("{path}/start"), Some(&writer), &json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        app.api
            .post("/flows/multiple/stop", Some(&writer), &json!([id(&own)]))
            .await
            .status,
        403
    );
    assert_eq!(
        app.api
            .patch("/flows/bulk", Some(&writer), &json!([{"id": id(&own)}]))
            .await
            .status,
        403
    );
    let r = app
        .api
        .post("/flows", Some(&writer), &json!([flow("a"), flow("b")]))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "MISSING_PERMISSION");
    assert_eq!(app.api.get("/flows", None).await.status, 401);
    let (nobody, _, _) = member(app, "nobodies", "nobody@example.com", &[]).await;
    for path in ["/flows".to_owned(), format!("/flows/{}", id(&f))] {
        let r = app.api.get(&path, Some(&nobody)).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.error(), "MISSING_PERMISSION");
    }
}

async fn arrays_and_bulk_patches_give_one_result_per_item(app: &App) {
    let r = app
        .api
        .post(
            "/flows",
            Some(&app.admin),
            &json!([flow("one"), {"name": "broken"}, flow("three")]),
        )
        .await;
    assert_eq!(r.status, 201);
    let items = r.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["name"], "one");
    assert_eq!(items[1]["errors"][0]["message"], "Flows require a graph.");
    assert_eq!(items[2]["name"], "three");
    let (a, c) = (id(&items[0]), id(&items[2]));
    app.api
        .post(&format!("/flows/{c}/start"), Some(&app.admin), &json!({}))
        .await;
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let body = json!([{"id": a, "name": "one v2"}, {"id": missing, "name": "ghost"}, {"id": c, "name": "busy"},
                      {"name": "no id"}]);
    let r = app.api.patch("/flows/bulk", Some(&app.admin), &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["name"], "one v2");
    assert_eq!(
        items[1],
        json!({"errors": [{"message": "No flow found", "code": 404, "flowId": missing}]})
    );
    assert_eq!(items[2]["errors"][0]["code"], 409);
    let message = items[2]["errors"][0]["message"].as_str().unwrap();
    assert!(
        message == "Flow is not inactive. Current status: starting"
            || message == "Flow is not inactive. Current status: active",
        "{message}"
    );
    assert_eq!(items[2]["errors"][0]["flowId"], c.as_str());
    assert_eq!(items[3]["errors"][0]["message"], "Invalid id");
    assert_eq!(
        app.api.get(&format!("/flows/{c}"), Some(&app.admin)).await.body["data"]["name"],
        "three",
        "skipped"
    );
}

async fn the_status_machine_runs_with_the_execution_services_confirmations(app: &App) {
    let f = create(app, &app.admin, flow("lifecycle")).await;
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
    wait_status(app, &fid, "active").await;
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Flow is not inactive. Current status: active", "code": 409}]})
    );
    let r = app
        .api
        .post(&format!("{path}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body["data"]["status"], "active",
        "starting an active flow changes nothing"
    );
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "Flow is not inactive. Current status: active");
    let r = app
        .api
        .post(&format!("{path}/stop"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": fid, "status": "stopping"}, "meta": {}})
    );
    wait_status(app, &fid, "inactive").await;
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"msg": "Flow was successfully deleted"}));
    assert_eq!(app.api.get(&path, Some(&app.admin)).await.status, 404);
}

async fn a_failed_start_ends_inactive_with_its_reason(app: &App) {
    let mut doomed = flow("doomed");
    doomed["graph"]["nodes"][1]["componentId"] = json!("log2");
    let f = create(app, &app.admin, doomed).await;
    let fid = id(&f);
    app.api
        .post(&format!("/flows/{fid}/start"), Some(&app.admin), &json!({}))
        .await;
    let reason = "node step_2: unknown component \"log2\" with function \"write\"";
    let g = wait_status(app, &fid, "inactive").await;
    assert_eq!(g["statusReason"], reason, "the reason stays until the next start");
    // A duplicate of the execution service's verdict is applied once.
    let failure = Envelope::new(
        "flow.failed",
        "test/execution",
        json!({"flowId": fid, "reason": "a late duplicate"}),
    );
    app.bus.publish(&failure).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let g = app.api.get(&format!("/flows/{fid}"), Some(&app.admin)).await.body["data"].clone();
    assert_eq!(
        g["status"], "inactive",
        "a failure for a flow that is not starting changes nothing"
    );
    assert_eq!(g["statusReason"], reason);
    let r = app
        .api
        .post(&format!("/flows/{fid}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.body["data"]["status"], "starting");
}

async fn multiple_start_and_stop_answer_per_id(app: &App) {
    let (a, b) = (
        id(&create(app, &app.admin, flow("a")).await),
        id(&create(app, &app.admin, flow("b")).await),
    );
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let r = app
        .api
        .post(
            "/flows/multiple/start",
            Some(&app.admin),
            &json!([a, "bad$id", missing, b]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            {"data": {"id": a, "status": "starting"}, "meta": {}},
            {"errors": [{"message": "Invalid id", "code": 400, "flowId": "bad$id"}]},
            {"errors": [{"message": "No flow with this ID found", "code": 404, "flowId": missing}]},
            {"data": {"id": b, "status": "starting"}, "meta": {}},
        ])
    );
    let r = app
        .api
        .post("/flows/multiple/stop", Some(&app.admin), &json!([a]))
        .await;
    assert_eq!(r.body[0]["data"]["status"], "stopping");
    let r = app
        .api
        .post("/flows/multiple/stop", Some(&app.admin), &json!({"ids": [a]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "No flow ids given. Expecting an array of flow ids");
}

async fn a_flow_cannot_be_planted_in_another_tenant_through_a_user_owner(app: &App) {
    let (mallory, _, _) = member(app, "evil", "mallory@evil.test", ALL_FLOW_PERMISSIONS).await;
    let (victim, victim_id, _) = member(app, "victims", "victim@victims.test", ALL_FLOW_PERMISSIONS).await;
    let mut planted = flow("planted");
    planted["owners"] = json!([{"id": victim_id, "type": "user"}]);
    let f = create(app, &mallory, planted).await;
    assert_eq!(
        app.api.get("/flows", Some(&victim)).await.body["meta"]["total"],
        0,
        "not visible to the victim"
    );
    assert_eq!(
        app.api
            .get(&format!("/flows/{}", id(&f)), Some(&victim))
            .await
            .status,
        404
    );
    let mut odd = flow("odd owner");
    odd["owners"] = json!([{"id": victim_id, "type": "group"}]);
    let r = app.api.post("/flows", Some(&mallory), &odd).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "Flow owner type must be user or tenant.");
}

async fn an_admin_creating_a_flow_for_another_tenant_gives_it_to_that_tenant(app: &App) {
    let (member_token, _, tenant) = member(app, "clients", "client@clients.test", ALL_FLOW_PERMISSIONS).await;
    let mut body = flow("for the client");
    body["tenant"] = json!(tenant);
    let f = create(app, &app.admin, body).await;
    assert_eq!(f["tenant"], tenant.as_str());
    assert!(f["owners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == tenant.as_str() && o["type"] == "tenant"));
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    assert!(
        !f["owners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == me["tenant"]),
        "not the admin's tenant"
    );
    assert_eq!(
        app.api
            .get(&format!("/flows/{}", id(&f)), Some(&member_token))
            .await
            .status,
        200
    );
}

crate::both_modes!(
    a_flow_cannot_be_planted_in_another_tenant_through_a_user_owner,
    an_admin_creating_a_flow_for_another_tenant_gives_it_to_that_tenant,
    creating_a_flow_returns_201_with_owners_version_and_defaults,
    an_invalid_flow_is_400_listing_every_problem,
    unknown_and_malformed_ids_are_404_and_400,
    patch_merges_top_level_fields_revalidates_and_bumps_the_version,
    lists_page_filter_sort_and_search_with_a_matching_total,
    a_tenant_sees_and_changes_only_its_own_flows,
    each_flow_endpoint_checks_its_permission,
    arrays_and_bulk_patches_give_one_result_per_item,
    the_status_machine_runs_with_the_execution_services_confirmations,
    a_failed_start_ends_inactive_with_its_reason,
    multiple_start_and_stop_answer_per_id,
);
