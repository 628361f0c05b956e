//! Creating, reading, validating, patching and listing flows.

use serde_json::json;

use super::helpers::{create, id, order_sync, MISSING};
use crate::harness::App;

async fn creating_a_flow_returns_201_with_owners_version_and_defaults(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let f = create(app, &app.admin, order_sync("Order sync")).await;
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
    r.assert_field_error(400, "Flows require a graph.", "/graph");
}

async fn unknown_and_malformed_ids_are_404_and_400(app: &App) {
    app.api
        .get(&format!("/flows/{MISSING}"), Some(&app.admin))
        .await
        .assert_error(404, "No flow found");
    for (method, path) in [
        ("GET", "/flows/bad$id"),
        ("DELETE", "/flows/bad$id"),
        ("POST", "/flows/bad$id/start"),
    ] {
        let request = app.api.request(method.parse().unwrap(), path, Some(&app.admin));
        app.api.send(request).await.assert_error(400, "Invalid id");
    }
    app.api
        .post(&format!("/flows/{MISSING}/start"), Some(&app.admin), &json!({}))
        .await
        .assert_error(404, "No flow with this ID found");
}

async fn patch_merges_top_level_fields_revalidates_and_bumps_the_version(app: &App) {
    let f = create(app, &app.admin, order_sync("Before")).await;
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
    app.api
        .patch(&path, Some(&app.admin), &json!({"graph": {"nodes": []}}))
        .await
        .assert_field_error(400, "Flows require at least one node.", "/graph/nodes");
    app.api
        .patch(&path, Some(&app.admin), &json!({"status": "active"}))
        .await
        .assert_field_error(
            400,
            "Flow status cannot be set manually. Use the flow start/stop end points instead.",
            "/status",
        );
    assert_eq!(
        app.api.get(&path, Some(&app.admin)).await.body["data"]["version"],
        2,
        "failed patches change nothing"
    );
}

async fn lists_page_filter_sort_and_search_with_a_matching_total(app: &App) {
    let mut ids = Vec::new();
    for name in ["alpha", "Bravo 50% off", "charlie", "delta", "echo"] {
        ids.push(id(&create(app, &app.admin, order_sync(name)).await));
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
    bad_list_parameters_are_400_naming_the_parameter(app).await;
}

async fn bad_list_parameters_are_400_naming_the_parameter(app: &App) {
    for (bad, message) in [
        ("filter[status]=running", "Invalid filter[status] parameter"),
        (
            &*format!("filter[type]={}", "w".repeat(101)),
            "Invalid filter[type] parameter: at most 100 characters",
        ),
        ("sort=size", "Invalid sort parameter"),
        ("sort=--name", "Invalid sort parameter"),
        ("page[size]=0", "Invalid page[size] parameter: must be 1..1000"),
        ("filter[user]=bad$id", "Invalid filter[user] parameter"),
        (
            "filter[fromTemplate]=bad$id",
            "Invalid filter[fromTemplate] parameter",
        ),
    ] {
        app.api
            .get(&format!("/flows?{bad}"), Some(&app.admin))
            .await
            .assert_error(400, message);
    }
}

crate::both_modes!(
    creating_a_flow_returns_201_with_owners_version_and_defaults,
    an_invalid_flow_is_400_listing_every_problem,
    unknown_and_malformed_ids_are_404_and_400,
    patch_merges_top_level_fields_revalidates_and_bumps_the_version,
    lists_page_filter_sort_and_search_with_a_matching_total,
);
