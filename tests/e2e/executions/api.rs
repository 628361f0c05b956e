//! The executions API (API.md §5): listing with filters, sorting and paging, FlowMate's icenter counts, the error
//! answers for bad queries and ids, and the tenant scope of all of it.

use serde_json::json;

use crate::{
    harness::App,
    support::{edge, finished, flow, member, node, run, started},
};

/// What [`seed`] ran: three executions of one flow (oldest first) and one failed execution of another.
struct Seeded {
    flow: String,
    runs: Vec<String>,
    failing_flow: String,
    failed: String,
}

async fn seed(app: &App) -> Seeded {
    let fid = started(
        app,
        &app.admin,
        flow(
            "listed",
            vec![
                node("start", "manual", "run", json!({})),
                node("check", "filter", "check", json!({"condition": "ok"})),
            ],
            vec![edge("start", "check")],
        ),
    )
    .await;
    let mut runs = Vec::new();
    for ok in [true, false, true] {
        let id = run(app, &app.admin, &fid, json!({"ok": ok})).await;
        finished(app, &id).await;
        runs.push(id);
    }
    let bad = started(
        app,
        &app.admin,
        flow(
            "failing",
            vec![
                node("start", "manual", "run", json!({})),
                node("x", "transform", "map", json!({"expression": "$error(\"nope\")"})),
            ],
            vec![edge("start", "x")],
        ),
    )
    .await;
    let failed = run(app, &app.admin, &bad, json!({})).await;
    assert_eq!(finished(app, &failed).await["status"], "failed");
    Seeded {
        flow: fid,
        runs,
        failing_flow: bad,
        failed,
    }
}

async fn list(app: &App, query: &str) -> flowmate_testkit::Reply {
    app.api
        .get(&format!("/executions?{query}"), Some(&app.admin))
        .await
}

async fn listings_sort_page_and_filter(app: &App, s: &Seeded) {
    let fid = &s.flow;
    let r = list(app, &format!("filter[flowId]={fid}")).await;
    let got: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [s.runs[2].as_str(), s.runs[1].as_str(), s.runs[0].as_str()],
        "newest first"
    );
    let r = list(
        app,
        &format!("filter[flowId]={fid}&sort=startedAt&page[size]=2&page[number]=2"),
    )
    .await;
    assert_eq!(r.body["data"][0]["id"], s.runs[2].as_str());
    assert_eq!(
        r.body["meta"],
        json!({"total": 3, "page": 2, "perPage": 2, "totalPages": 2})
    );
    let r = list(app, "filter[status]=failed").await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], s.failed.as_str());
    let r = list(app, "filter[from]=2999-01-01T00:00:00Z").await;
    assert_eq!(r.body["meta"]["total"], 0);
    let r = list(app, "filter[to]=2999-01-01T00:00:00Z").await;
    assert_eq!(r.body["meta"]["total"], 4);
}

async fn bad_queries_and_unknown_ids_get_error_answers(app: &App) {
    for (q, message) in [
        ("filter[status]=done", "Invalid filter[status] parameter"),
        ("sort=name", "Invalid sort parameter: use startedAt or -startedAt"),
        (
            "filter[from]=yesterday",
            "Invalid filter[from] parameter: use an RFC 3339 timestamp",
        ),
        ("filter[flowId]=bad$id", "Invalid filter[flowId] parameter"),
        ("page[size]=0", "Invalid page[size] parameter: must be 1..1000"),
    ] {
        list(app, q).await.assert_error(400, message);
    }
    app.api
        .get("/executions/bad$id", Some(&app.admin))
        .await
        .assert_error(400, "Invalid id");
    app.api
        .get(
            "/executions/01a2247a-0000-7000-8000-000000000000",
            Some(&app.admin),
        )
        .await
        .assert_error(404, "No execution found");
}

async fn icenter_counts_group_by_flow_user_and_component(app: &App, s: &Seeded) {
    let r = app
        .api
        .get("/icenter/executions?groupby=flow", Some(&app.admin))
        .await;
    assert_eq!(r.status, 200);
    let mut counts = r.body["data"].as_array().unwrap().clone();
    counts.sort_by_key(|c| c["count"].as_i64());
    assert_eq!(
        counts,
        vec![
            json!({"flow": s.failing_flow, "count": 1}),
            json!({"flow": s.flow, "count": 3})
        ]
    );
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body["id"].clone();
    let r = app.api.get("/icenter/executions", Some(&app.admin)).await;
    assert_eq!(r.body, json!({"data": [{"user": me, "count": 4}]}));
    let r = app
        .api
        .get("/icenter/executions?groupby=component", Some(&app.admin))
        .await;
    let mut counts = r.body["data"].as_array().unwrap().clone();
    counts.sort_by_key(|c| c["component"].as_str().map(str::to_owned));
    assert_eq!(
        counts,
        vec![
            json!({"component": "filter", "count": 3}),
            json!({"component": "manual", "count": 4}),
            json!({"component": "transform", "count": 1})
        ]
    );
    let r = app
        .api
        .get(
            "/icenter/executions?start=2000-01-01&end=2000-01-31",
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.body, json!({"data": []}));
    app.api
        .get("/icenter/executions?groupby=tenant", Some(&app.admin))
        .await
        .assert_error(400, "Invalid groupby parameter: use user, flow or component");
    app.api
        .get("/icenter/executions?start=01/02/2026", Some(&app.admin))
        .await
        .assert_error(400, "Invalid start parameter: use YYYY-MM-DD");
}

async fn another_tenant_sees_none_of_it(app: &App, s: &Seeded) {
    let other = member(
        app,
        "elsewhere",
        "reader@elsewhere.test",
        &["icenter.read", "flows.control"],
    )
    .await
    .token;
    let r = app.api.get("/executions", Some(&other)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["meta"]["total"], 0);
    let run_of_mine = &s.runs[0];
    app.api
        .get(&format!("/executions/{run_of_mine}"), Some(&other))
        .await
        .assert_error(404, "No execution found");
    assert_eq!(
        app.api.get("/icenter/executions", Some(&other)).await.body,
        json!({"data": []})
    );
    let fid = &s.flow;
    app.api
        .post(&format!("/flows/{fid}/run"), Some(&other), &json!({}))
        .await
        .assert_error(404, &format!("Flow {fid} either does not exist or is inactive."));
    app.api
        .post(
            &format!("/executions/{run_of_mine}/retry"),
            Some(&other),
            &json!({}),
        )
        .await
        .assert_error(404, "No execution found");
    let nobody = member(app, "plain", "plain@plain.test", &["flows.read"])
        .await
        .token;
    app.api
        .get("/executions", Some(&nobody))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    app.api
        .get("/executions", None)
        .await
        .assert_error(401, "Missing authorization header.");
}

async fn executions_are_listed_filtered_counted_and_scoped_to_the_tenant(app: &App) {
    let seeded = seed(app).await;
    listings_sort_page_and_filter(app, &seeded).await;
    bad_queries_and_unknown_ids_get_error_answers(app).await;
    icenter_counts_group_by_flow_user_and_component(app, &seeded).await;
    another_tenant_sees_none_of_it(app, &seeded).await;
}

crate::both_modes!(executions_are_listed_filtered_counted_and_scoped_to_the_tenant);
