//! `/templates` (API.md §4) through the gateway: CRUD, versions, scope, permissions, and generating flows.

use serde_json::{json, Value};

use crate::harness::App;

fn template(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Order sync template",
        "graph": {
            "nodes": [
                {"id": "step_1", "componentId": "webhook", "function": "receive", "name": "in"},
                {"id": "step_2", "componentId": "http", "function": "request", "authorization": {"type": "oauth"},
                 "mapper": {"x": "y"}, "fields": {"url": "https://example.com/orders", "method": "POST"}}
            ],
            "edges": [{"source": "step_1", "target": "step_2"}]
        },
        "flowSettings": {"executions": {"saveData": "all"}}
    })
}

async fn create(app: &App, token: &str, body: Value) -> Value {
    let r = app.api.post("/templates", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A member of a new tenant holding exactly `permissions`; returns its token.
async fn member(app: &App, tenant: &str, username: &str, permissions: &[&str]) -> String {
    crate::support::member(app, tenant, username, permissions)
        .await
        .token
}

async fn creating_a_template_returns_201_as_a_draft_owned_by_the_caller_and_its_tenant(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let t = create(app, &app.admin, template("Orders")).await;
    assert_eq!(t["status"], "draft");
    assert_eq!(t["version"], 1);
    assert_eq!(t["tenant"], me["tenant"]);
    assert_eq!(
        t["owners"],
        json!([{"id": me["id"], "type": "user"}, {"id": me["tenant"], "type": "tenant"}])
    );
    assert_eq!(
        t["graph"]["nodes"][1]["authorization"],
        json!({"type": "oauth"}),
        "node extras are kept"
    );
    let r = app
        .api
        .get(&format!("/templates/{}", id(&t)), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"data": t, "meta": {}}));
}

async fn invalid_templates_and_ids_are_rejected(app: &App) {
    let r = app
        .api
        .post(
            "/templates",
            Some(&app.admin),
            &json!({"status": 42, "cron": "nope"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/graph", "/status", "/cron"]);
    assert_eq!(
        r.body["errors"][0]["message"], "Flow Templates require a graph.",
        "OIH's text"
    );
    assert!(r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["code"] == 400));
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let r = app
        .api
        .get(&format!("/templates/{missing}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Template not found", "code": 404}]})
    );
    app.api
        .get("/templates/bad$id", Some(&app.admin))
        .await
        .assert_error(400, "Invalid id");
    app.api
        .post(
            &format!("/templates/{missing}/generate"),
            Some(&app.admin),
            &json!({}),
        )
        .await
        .assert_error(404, "Template not found");
}

async fn updates_merge_shallowly_and_keep_every_previous_version(app: &App) {
    let t = create(app, &app.admin, template("v1 name")).await;
    let path = format!("/templates/{}", id(&t));
    let r = app
        .api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"name": "v2 name", "status": "published", "id": "x"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["name"], "v2 name");
    assert_eq!(r.body["data"]["status"], "published");
    assert_eq!(r.body["data"]["version"], 2);
    assert_eq!(r.body["data"]["id"], t["id"]);
    assert_eq!(
        r.body["data"]["graph"], t["graph"],
        "keys not in the patch are kept"
    );
    app.api
        .patch(&path, Some(&app.admin), &json!({"description": "third"}))
        .await;
    let r = app.api.get(&format!("{path}/versions"), Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    let versions = r.body["data"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[0]["version"].clone(), versions[0]["name"].clone()),
        (json!(2), json!("v2 name"))
    );
    assert_eq!(versions[1], t, "the first version exactly as it was");
    app.api
        .patch(&path, Some(&app.admin), &json!({"graph": {"nodes": []}}))
        .await
        .assert_field_error(400, "Flow Templates require at least one node.", "/graph/nodes");
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"msg": "Template was successfully deleted"}));
    app.api
        .get(&path, Some(&app.admin))
        .await
        .assert_error(404, "Template not found");
    app.api
        .get(&format!("{path}/versions"), Some(&app.admin))
        .await
        .assert_error(404, "Template not found");
}

async fn lists_filter_by_status_with_a_matching_total(app: &App) {
    for i in 0..3 {
        create(app, &app.admin, template(&format!("draft {i}"))).await;
    }
    let mut published = template("Published one");
    published["status"] = json!("published");
    create(app, &app.admin, published).await;
    let r = app
        .api
        .get("/templates?filter[status]=published", Some(&app.admin))
        .await;
    assert_eq!(
        r.body["meta"],
        json!({"total": 1, "page": 1, "perPage": 10, "totalPages": 1})
    );
    assert_eq!(
        app.api
            .get("/templates?filter[status]=0", Some(&app.admin))
            .await
            .body["meta"]["total"],
        3
    );
    let r = app
        .api
        .get(
            "/templates?page[size]=2&page[number]=2&sort=-name",
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.body["meta"]["totalPages"], 2);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.api
            .get("/templates?search=PUBLISHED", Some(&app.admin))
            .await
            .body["meta"]["total"],
        1
    );
    for (bad, message) in [
        ("filter[status]=live", "Invalid filter[status] parameter"),
        (
            &*format!("filter[type]={}", "x".repeat(101)),
            "Invalid filter[type] parameter: at most 100 characters",
        ),
        ("sort=size", "Invalid sort parameter"),
        ("page[size]=0", "Invalid page[size] parameter: must be 1..1000"),
    ] {
        app.api
            .get(&format!("/templates?{bad}"), Some(&app.admin))
            .await
            .assert_error(400, message);
    }
}

async fn generate_deep_merges_by_index_and_drops_template_only_fields(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let t = create(app, &app.admin, template("Orders")).await;
    let overrides = json!({"name": "Orders for ACME", "status": "active", "id": "ignored",
                           "graph": {"nodes": [{}, {"fields": {"url": "https://acme.example/orders"}}]}});
    let r = app
        .api
        .post(
            &format!("/templates/{}/generate", id(&t)),
            Some(&app.admin),
            &overrides,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let f = &r.body["data"];
    assert_eq!(f["name"], "Orders for ACME");
    assert_eq!(f["status"], "inactive");
    assert_eq!(f["fromTemplate"], t["id"]);
    assert_ne!(f["id"], "ignored");
    assert_eq!(f["graph"]["nodes"][0]["name"], "in", "the first node is kept");
    assert_eq!(
        f["graph"]["nodes"][1]["fields"],
        json!({"url": "https://acme.example/orders", "method": "POST"})
    );
    assert!(
        f["graph"]["nodes"][1].get("authorization").is_none()
            && f["graph"]["nodes"][1].get("mapper").is_none()
    );
    assert_eq!(f["flowSettings"], json!({"executions": {"saveData": "all"}}));
    assert_eq!(
        f["owners"],
        json!([{"id": me["id"], "type": "user"}, {"id": me["tenant"], "type": "tenant"}])
    );
    let stored = app.api.get(&format!("/flows/{}", id(f)), Some(&app.admin)).await;
    assert_eq!(stored.body["data"], *f);
    let r = app
        .api
        .get(
            &format!("/flows?filter[fromTemplate]={}", id(&t)),
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.body["meta"]["total"], 1);
    // No body at all: the template as it is.
    let r = app
        .api
        .send(app.api.request(
            reqwest::Method::POST,
            &format!("/templates/{}/generate", id(&t)),
            Some(&app.admin),
        ))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["data"]["name"], "Orders");
}

async fn generate_passes_the_flow_repositorys_errors_through(app: &App) {
    let t = create(app, &app.admin, template("Orders")).await;
    let path = format!("/templates/{}/generate", id(&t));
    let r = app
        .api
        .post(
            &path,
            Some(&app.admin),
            &json!({"graph": {"nodes": [{"id": ""}, {"componentId": ""}]}}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let messages: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"Flow nodes require an id.")
            && messages.contains(&"Flow nodes require a componentId."),
        "{messages:?}"
    );
    app.api
        .post(&path, Some(&app.admin), &json!({"cron": "whenever"}))
        .await
        .assert_field_error(400, "Invalid cron expression.", "/cron");
}

async fn templates_are_scoped_to_their_tenant_and_need_their_permissions(app: &App) {
    let mine = create(app, &app.admin, template("admin's")).await;
    let other = member(
        app,
        "acme",
        "dev@acme.test",
        &["templates.read", "templates.write", "flows.write", "flows.read"],
    )
    .await;
    let theirs = create(app, &other, template("acme's")).await;
    let r = app.api.get("/templates", Some(&other)).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], theirs["id"]);
    let path = format!("/templates/{}", id(&mine));
    let not_found = |r: flowmate_testkit::Reply| r.assert_error(404, "Template not found");
    not_found(app.api.get(&path, Some(&other)).await);
    not_found(app.api.patch(&path, Some(&other), &json!({"name": "x"})).await);
    not_found(app.api.delete(&path, Some(&other)).await);
    not_found(app.api.get(&format!("{path}/versions"), Some(&other)).await);
    not_found(
        app.api
            .post(&format!("{path}/generate"), Some(&other), &json!({}))
            .await,
    );
    assert_eq!(
        app.api.get("/templates", Some(&app.admin)).await.body["meta"]["total"],
        2
    );

    let reader = member(app, "readers", "reader@example.com", &["templates.read"]).await;
    let r = app.api.post("/templates", Some(&reader), &template("x")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "MISSING_PERMISSION", "code": 403}]})
    );
    let nobody = member(app, "nobodies", "nobody@example.com", &[]).await;
    app.api
        .get("/templates", Some(&nobody))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    let writer = member(
        app,
        "writers",
        "writer@example.com",
        &["templates.read", "templates.write"],
    )
    .await;
    let own = create(app, &writer, template("own")).await;
    let r = app
        .api
        .post(
            &format!("/templates/{}/generate", id(&own)),
            Some(&writer),
            &json!({}),
        )
        .await;
    // Generating creates a flow: it needs flows.write.
    r.assert_error(403, "MISSING_PERMISSION");
}

async fn template_changes_are_announced_on_the_bus(app: &App) {
    let collector = std::sync::Arc::new(flowmate_testkit::Collector::default());
    let options = flowmate_bus::SubscribeOptions {
        prefetch: 1,
        exclusive: true,
        ..flowmate_bus::SubscribeOptions::new(
            format!("test.{}", uuid::Uuid::new_v4().simple()),
            &["template.#"],
        )
    };
    let stop = tokio_util::sync::CancellationToken::new();
    app.bus
        .subscribe(options, collector.clone(), stop.clone())
        .await
        .unwrap();
    let t = create(app, &app.admin, template("announced")).await;
    let path = format!("/templates/{}", id(&t));
    app.api
        .patch(&path, Some(&app.admin), &json!({"name": "renamed"}))
        .await;
    app.api.delete(&path, Some(&app.admin)).await;
    let events = collector.wait_for(3).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["template.created", "template.modified", "template.deleted"]
    );
    assert_eq!(events[0].data["template"]["name"], "announced");
    assert_eq!(events[1].data["template"]["version"], 2);
    assert_eq!(events[2].data["templateId"], t["id"]);
    stop.cancel();
}

crate::both_modes!(
    template_changes_are_announced_on_the_bus,
    creating_a_template_returns_201_as_a_draft_owned_by_the_caller_and_its_tenant,
    invalid_templates_and_ids_are_rejected,
    updates_merge_shallowly_and_keep_every_previous_version,
    lists_filter_by_status_with_a_matching_total,
    generate_deep_merges_by_index_and_drops_template_only_fields,
    generate_passes_the_flow_repositorys_errors_through,
    templates_are_scoped_to_their_tenant_and_need_their_permissions,
);
