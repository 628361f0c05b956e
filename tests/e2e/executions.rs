//! Flows that really run (API.md §5–§6) through the gateway, in both run modes: the start check, every built-in
//! component, conditions, mappers and fan-out, failing expressions and HTTP calls, retries, durable delays across
//! a restart, schedules, crash recovery, the executions API and tenant scope.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

use crate::harness::{App, Mode};

// ----- helpers -----

/// An HTTP server on loopback that flows call: `/ok` echoes, `/fail` answers 500, `/flaky` fails twice then
/// succeeds, `/count` counts its calls.
struct Target {
    base: String,
    calls: Arc<AtomicUsize>,
    flaky: Arc<AtomicUsize>,
}

async fn target() -> Target {
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/ok",
            post(|Json(body): Json<Value>| async move { Json(json!({"received": body, "ok": true})) })
                .get(|| async { Json(json!({"ok": true})) }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/flaky",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    (StatusCode::SERVICE_UNAVAILABLE, "not yet")
                } else {
                    (StatusCode::OK, "finally")
                }
            })
            .with_state(flaky.clone()),
        )
        .route(
            "/count",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                Json(json!({"call": n.fetch_add(1, Ordering::SeqCst) + 1}))
            })
            .with_state(calls.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Target { base, calls, flaky }
}

fn node(id: &str, component: &str, function: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": component, "function": function, "fields": fields})
}

fn edge(source: &str, target: &str) -> Value {
    json!({"source": source, "target": target})
}

fn flow(name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> Value {
    json!({"name": name, "graph": {"nodes": nodes, "edges": edges}})
}

async fn wait_flow(app: &App, token: &str, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = app.api.get(&format!("/flows/{id}"), Some(token)).await.body["data"].clone();
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {id} never became {status}: {last}");
}

/// Creates and starts a flow as `token`; returns its id once active.
async fn started(app: &App, token: &str, body: Value) -> String {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(token), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_flow(app, token, &id, "active").await;
    id
}

/// Runs a flow by hand; returns the execution id.
async fn run(app: &App, token: &str, flow_id: &str, body: Value) -> String {
    let r = app
        .api
        .post(&format!("/flows/{flow_id}/run"), Some(token), &body)
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "queued");
    assert_eq!(r.body["data"]["flowId"], flow_id);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Polls an execution until `done` holds for it.
async fn wait_execution(app: &App, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let r = app.api.get(&format!("/executions/{id}"), Some(token)).await;
        if r.status == 200 {
            last = r.body["data"].clone();
            if done(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} never got there: {last}");
}

fn is_final(e: &Value) -> bool {
    matches!(e["status"].as_str(), Some("succeeded" | "failed" | "cancelled"))
}

async fn finished(app: &App, id: &str) -> Value {
    wait_execution(app, &app.admin, id, is_final).await
}

fn steps(e: &Value) -> Vec<(String, String, u64)> {
    e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stepId"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
                s["attempt"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn step_list(items: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect()
}

/// A member of a new tenant holding `permissions`; returns its token.
async fn member(app: &App, tenant: &str, username: &str, permissions: &[&str]) -> String {
    let t = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": tenant}))
        .await;
    let tenant_id = t.body["id"].as_str().unwrap().to_owned();
    app.create_user(
        json!({"username": username, "password": "member-password", "firstname": "M",
                           "lastname": "E", "tenant": tenant_id, "permissions": permissions}),
    )
    .await;
    app.api.login(username, "member-password").await
}

const ORDER: &str =
    r#"{"id":"ord-1","customer":{"name":"Ada"},"items":[{"price":3.5,"qty":2},{"price":10,"qty":1}]}"#;

fn order() -> Value {
    serde_json::from_str(ORDER).unwrap()
}

// ----- scenarios -----

async fn a_manual_run_goes_through_every_step_and_is_recorded(app: &App) {
    let fid = started(
        app,
        &app.admin,
        flow(
            "orders",
            vec![
                node("step_1", "manual", "run", json!({})),
                node(
                    "step_2",
                    "transform",
                    "map",
                    json!({"expression":
                    "{\"order\": id, \"who\": customer.name, \"total\": $sum(items.(price * qty))}"}),
                ),
                node(
                    "step_3",
                    "log",
                    "write",
                    json!({"message": "order {{ order }} for {{ who }}"}),
                ),
            ],
            vec![edge("step_1", "step_2"), edge("step_2", "step_3")],
        ),
    )
    .await;
    let id = run(app, &app.admin, &fid, order()).await;
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["flowId"], fid.as_str());
    assert_eq!(e["flowVersion"], 1);
    assert_eq!(e["trigger"]["type"], "manual");
    assert_eq!(e["counters"], json!({"started": 3, "succeeded": 3, "errors": 0}));
    assert_eq!(e["error"], Value::Null);
    assert!(e["durationMs"].as_i64().unwrap() >= 0);
    assert_eq!(
        steps(&e),
        step_list(&[
            ("step_1", "succeeded", 1),
            ("step_2", "succeeded", 1),
            ("step_3", "succeeded", 1)
        ])
    );
    assert_eq!(e["steps"][0]["componentId"], "manual");
    assert_eq!(e["steps"][0]["output"], order());
    let expected = json!({"order": "ord-1", "who": "Ada", "total": 17});
    assert_eq!(e["steps"][1]["output"], expected);
    assert_eq!(e["steps"][2]["output"], expected, "log passes the data on");

    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["meta"],
        json!({"total": 1, "page": 1, "perPage": 10, "totalPages": 1})
    );
    assert_eq!(r.body["data"][0]["id"], id.as_str());
    assert!(r.body["data"][0].get("steps").is_none(), "list items omit steps");

    let r = app
        .api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    wait_flow(app, &app.admin, &fid, "inactive").await;
    let r = app
        .api
        .post(&format!("/flows/{fid}/run"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": format!("Flow {fid} either does not exist or is inactive."), "code": 404}]})
    );
}

async fn flows_that_cannot_run_fail_to_start_with_a_reason_naming_the_problem(app: &App) {
    let cases = [
        (
            flow(
                "unknown",
                vec![
                    node("a", "manual", "run", json!({})),
                    node("b", "nope", "x", json!({})),
                ],
                vec![edge("a", "b")],
            ),
            "node b: unknown component \"nope\" with function \"x\"",
        ),
        (
            flow(
                "two triggers",
                vec![
                    node("a", "manual", "run", json!({})),
                    node("b", "log", "write", json!({})),
                    node("c", "log", "write", json!({})),
                ],
                vec![edge("a", "c")],
            ),
            "the flow must have exactly one trigger node (a node that is no edge's target); found 2: a, b",
        ),
        (
            flow(
                "bad expression",
                vec![
                    node("a", "manual", "run", json!({})),
                    node("b", "transform", "map", json!({"expression": "{"})),
                ],
                vec![edge("a", "b")],
            ),
            "node b: fields.expression does not compile",
        ),
        (
            flow(
                "not a trigger",
                vec![
                    node("a", "log", "write", json!({})),
                    node("b", "manual", "run", json!({})),
                ],
                vec![edge("a", "b")],
            ),
            "node a: \"log\" cannot start a flow; the first node must be webhook, scheduler or manual",
        ),
        (
            flow(
                "code comes later",
                vec![
                    node("a", "manual", "run", json!({})),
                    node("b", "code", "execute", json!({})),
                ],
                vec![edge("a", "b")],
            ),
            "node b: unknown component \"code\" with function \"execute\"",
        ),
    ];
    for (body, reason) in cases {
        let r = app.api.post("/flows", Some(&app.admin), &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["data"]["id"].as_str().unwrap().to_owned();
        app.api
            .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
            .await;
        let f = wait_flow(app, &app.admin, &id, "inactive").await;
        let got = f["statusReason"].as_str().unwrap_or_default();
        assert!(got.starts_with(reason), "{got:?} should start with {reason:?}");
    }
    let mut cron = flow(
        "cron without scheduler",
        vec![node("a", "manual", "run", json!({}))],
        vec![],
    );
    cron["cron"] = json!("*/5 * * * *");
    let r = app.api.post("/flows", Some(&app.admin), &cron).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    app.api
        .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
        .await;
    let f = wait_flow(app, &app.admin, &id, "inactive").await;
    assert_eq!(
        f["statusReason"],
        "node a: a flow with a cron must start with the scheduler trigger"
    );
}

async fn conditions_mappers_and_fan_out_route_each_message(app: &App) {
    let mut body = flow(
        "routing",
        vec![
            node("start", "manual", "run", json!({})),
            node("items", "split", "each", json!({"path": "items"})),
            node(
                "big",
                "transform",
                "map",
                json!({"expression": "{\"big\": price}"}),
            ),
            node("all", "log", "write", json!({})),
            node("none", "log", "write", json!({})),
        ],
        vec![],
    );
    body["graph"]["edges"] = json!([
        {"source": "start", "target": "items"},
        {"source": "items", "target": "big", "config": {"condition": "price > 5"}},
        {"source": "items", "target": "all", "config": {"mapper": "{\"line\": price * qty, \"order\": $msg.data.qty}"}},
        {"source": "start", "target": "none", "config": {"condition": "$count(items) > 5"}},
    ]);
    let fid = started(app, &app.admin, body).await;
    let e = finished(app, &run(app, &app.admin, &fid, order()).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    let ids: Vec<String> = steps(&e).into_iter().map(|s| s.0).collect();
    // Each item goes along every edge whose condition holds, in order: item 1 only to `all`, item 2 to both.
    assert_eq!(
        ids,
        ["start", "items", "all", "big", "all"],
        "fan-out; `none` skipped"
    );
    assert_eq!(
        e["steps"][1]["output"],
        json!([{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}])
    );
    assert_eq!(e["steps"][2]["output"], json!({"line": 7, "order": 2}));
    assert_eq!(e["steps"][3]["output"], json!({"big": 10}));
    assert_eq!(e["steps"][4]["output"], json!({"line": 10, "order": 1}));
}

async fn filters_transforms_around_steps_and_steps_bindings_work(app: &App) {
    let mut t = node(
        "t",
        "transform",
        "map",
        json!({"expression": "{\"n\": n, \"first\": $steps.start.n}"}),
    );
    t["nodeSettings"] = json!({"applyTransform": "both", "transformFunction": "{\"n\": n * 10}",
                               "secondTransformFunction": "$merge([$, {\"after\": true}])"});
    let fid = started(
        app,
        &app.admin,
        flow(
            "shaping",
            vec![
                node("start", "manual", "run", json!({})),
                node("keep", "filter", "check", json!({"condition": "n > 1"})),
                t,
                node(
                    "reply",
                    "respond",
                    "reply",
                    json!({"status": 201, "body": {"id": "{{ n }}", "text": "n={{ n }}"}}),
                ),
            ],
            vec![edge("start", "keep"), edge("keep", "t"), edge("t", "reply")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({"n": 2})).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        e["steps"][2]["output"],
        json!({"n": 20, "first": 2, "after": true})
    );
    assert_eq!(
        e["steps"][3]["output"],
        json!({"n": 20, "first": 2, "after": true})
    );
    let e = finished(app, &run(app, &app.admin, &fid, json!({"n": 1})).await).await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(
        steps(&e),
        step_list(&[("start", "succeeded", 1), ("keep", "succeeded", 1)]),
        "filtered out"
    );
    assert_eq!(e["steps"][1]["output"], Value::Null);
}

async fn a_failing_expression_fails_its_step_with_a_clear_message(app: &App) {
    let fid = started(
        app,
        &app.admin,
        flow(
            "broken",
            vec![
                node("start", "manual", "run", json!({})),
                node(
                    "calc",
                    "transform",
                    "map",
                    json!({"expression": "$notAFunction(1)"}),
                ),
                node("after", "log", "write", json!({})),
            ],
            vec![edge("start", "calc"), edge("calc", "after")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({"a": 1})).await).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(
        steps(&e),
        step_list(&[("start", "succeeded", 1), ("calc", "failed", 1)])
    );
    let error = &e["steps"][1]["error"];
    assert_eq!(error["name"], "ExpressionError");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("$notAFunction(1): "),
        "{error}"
    );
    assert_eq!(
        e["steps"][1]["input"],
        json!({"a": 1}),
        "a failed step keeps its input"
    );
    assert_eq!(e["error"], *error);
    assert_eq!(e["counters"], json!({"started": 2, "succeeded": 1, "errors": 1}));
}

async fn http_steps_call_out_fail_on_errors_and_retry_with_backoff(app: &App) {
    let t = target().await;
    let call = |path: &str, extra: Value| {
        let mut fields = json!({"url": format!("{}{path}", t.base)});
        for (k, v) in extra.as_object().unwrap() {
            fields[k] = v.clone();
        }
        fields
    };
    let fid = started(
        app,
        &app.admin,
        flow(
            "http ok",
            vec![
                node("start", "manual", "run", json!({})),
                node(
                    "post",
                    "http",
                    "request",
                    call(
                        "/ok",
                        json!({"method": "POST", "body": {"order": "{{ id }}"},
                                                                   "headers": {"x-order": "{{ id }}"}}),
                    ),
                ),
                node(
                    "pick",
                    "transform",
                    "map",
                    json!({"expression": "{\"status\": status, \"echo\": body.received.order}"}),
                ),
            ],
            vec![edge("start", "post"), edge("post", "pick")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, order()).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["steps"][1]["output"]["status"], 200);
    assert_eq!(
        e["steps"][1]["output"]["headers"]["content-type"],
        "application/json"
    );
    assert_eq!(e["steps"][2]["output"], json!({"status": 200, "echo": "ord-1"}));

    let fid = started(
        app,
        &app.admin,
        flow(
            "http fails",
            vec![
                node("start", "manual", "run", json!({})),
                node("get", "http", "request", call("/fail", json!({}))),
            ],
            vec![edge("start", "get")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({})).await).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(
        e["error"],
        json!({"name": "HttpError", "message": format!("GET {}/fail answered 500", t.base)})
    );

    let mut allowed = node(
        "get",
        "http",
        "request",
        call("/fail", json!({"allowErrorStatus": true})),
    );
    allowed["name"] = json!("tolerant");
    let fid = started(
        app,
        &app.admin,
        flow(
            "http tolerant",
            vec![node("start", "manual", "run", json!({})), allowed],
            vec![edge("start", "get")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({})).await).await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["steps"][1]["output"]["status"], 500);
    assert_eq!(e["steps"][1]["output"]["body"], "boom");

    let mut flaky = node("get", "http", "request", call("/flaky", json!({})));
    flaky["nodeSettings"] = json!({"retry": {"maxAttempts": 3, "backoffMs": 100, "multiplier": 2}});
    let fid = started(
        app,
        &app.admin,
        flow(
            "http flaky",
            vec![node("start", "manual", "run", json!({})), flaky],
            vec![edge("start", "get")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({})).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        steps(&e),
        step_list(&[
            ("start", "succeeded", 1),
            ("get", "failed", 1),
            ("get", "failed", 2),
            ("get", "succeeded", 3)
        ])
    );
    assert_eq!(t.flaky.load(Ordering::SeqCst), 3);
    let at =
        |i: usize, key: &str| flowmate_domain::time::parse(e["steps"][i][key].as_str().unwrap()).unwrap();
    let first_wait = at(2, "startedAt") - at(1, "finishedAt");
    let second_wait = at(3, "startedAt") - at(2, "finishedAt");
    assert!(
        first_wait.num_milliseconds() >= 100,
        "backoff 100 ms, waited {first_wait}"
    );
    assert!(
        second_wait.num_milliseconds() >= 200,
        "backoff doubles, waited {second_wait}"
    );
    assert_eq!(e["counters"], json!({"started": 4, "succeeded": 2, "errors": 2}));
}

async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart(app: &mut App) {
    // Long enough to see the execution parked and to restart every service while it still waits, even on a slow
    // machine; short enough to keep the test quick.
    const DELAY_MS: i64 = 5_000;
    let fid = started(
        app,
        &app.admin,
        flow(
            "patient",
            vec![
                node("start", "manual", "run", json!({})),
                node("wait", "delay", "wait", json!({"ms": DELAY_MS})),
                node("done", "log", "write", json!({})),
            ],
            vec![edge("start", "wait"), edge("wait", "done")],
        ),
    )
    .await;
    let id = run(app, &app.admin, &fid, json!({"x": 1})).await;
    let parked = wait_execution(app, &app.admin, &id, |e| e["waitingUntil"].is_string()).await;
    assert_eq!(parked["status"], "running");
    assert_eq!(steps(&parked), step_list(&[("start", "succeeded", 1)]));
    app.restart().await;
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        steps(&e),
        step_list(&[
            ("start", "succeeded", 1),
            ("wait", "succeeded", 1),
            ("done", "succeeded", 1)
        ])
    );
    assert!(e.get("waitingUntil").is_none());
    let waited = flowmate_domain::time::parse(e["steps"][1]["finishedAt"].as_str().unwrap()).unwrap()
        - flowmate_domain::time::parse(e["steps"][0]["finishedAt"].as_str().unwrap()).unwrap();
    assert!(
        waited.num_milliseconds() >= DELAY_MS,
        "the delay lasts {DELAY_MS} ms across the restart, waited {waited}"
    );
}

/// How many executions of a `/executions` listing succeeded.
fn succeeded(listing: &Value) -> usize {
    listing["data"].as_array().map_or(0, |items| {
        items.iter().filter(|e| e["status"] == "succeeded").count()
    })
}

async fn schedules_fire_each_tick_once(app: &App) {
    // A second replica competes for the same schedule rows (distributed mode).
    let replica = app.execution_replica().await;
    let mut body = flow(
        "every second",
        vec![
            node("tick", "scheduler", "tick", json!({})),
            node("log", "log", "write", json!({})),
        ],
        vec![edge("tick", "log")],
    );
    body["cron"] = json!("* * * * * *");
    let fid = started(app, &app.admin, body).await;
    let listing = format!("/executions?filter[flowId]={fid}&page[size]=100");
    // Let it tick until two ticks have run to the end (30 s at most: a loaded machine can be slow to start).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.api.get(&listing, Some(&app.admin)).await;
        if succeeded(&r.body) >= 2 {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("fewer than 2 ticks succeeded within 30 s: {}", r.body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &app.admin, &fid, "inactive").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = app.api.get(&listing, Some(&app.admin)).await;
    let items = r.body["data"].as_array().unwrap().clone();
    let mut ticks = Vec::new();
    for item in &items {
        let e = finished(app, item["id"].as_str().unwrap()).await;
        // A tick claimed just before the stop may reach the engine after it: it fails as FlowNotActive and runs no
        // step, which is the stop working, not a tick firing twice.
        if e["status"] == "failed" && e["error"]["name"] == "FlowNotActive" {
            continue;
        }
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(e["trigger"]["type"], "schedule");
        assert_eq!(
            steps(&e),
            step_list(&[("tick", "succeeded", 1), ("log", "succeeded", 1)]),
            "{e}"
        );
        let data = &e["steps"][0]["output"];
        assert!(data["nextSheduledTimestamp"].is_string(), "{data}");
        ticks.push(data["sheduledTimestamp"].as_str().unwrap().to_owned());
    }
    assert!(
        ticks.len() >= 2,
        "at least 2 ticks succeeded, got {} of {} executions",
        ticks.len(),
        items.len()
    );
    let count = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), count, "no tick fired twice");
    if let Some((task, shutdown)) = replica {
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

async fn a_redelivered_trigger_resumes_from_its_checkpoint_without_repeating_steps(app: &App) {
    let t = target().await;
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
    let called = json!({"status": 200, "headers": {}, "body": {"call": 1}});
    let state = json!({
        "tasks": [{"node": "after", "msg": {"id": id, "data": called, "attachments": {}, "headers": {}, "metadata": {}}, "attempt": 1}],
        "outputs": {"start": {"n": 1}, "call": called}, "seq": 2,
        "counters": {"started": 2, "succeeded": 2, "errors": 0},
    });
    let item = json!({"executionId": id, "flowId": fid, "trigger": {"type": "manual"}, "message": message});
    let redelivered = flowmate_domain::Envelope::new("flow.execute", "test", item);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.executions_db()).await.unwrap();
    let tenant = app.api.get(&format!("/flows/{fid}"), Some(&app.admin)).await.body["data"]["tenant"].clone();
    let now = flowmate_domain::time::now_string();
    sqlx::query(
        "INSERT INTO executions (id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, counters, \
         message, state, owner, generation) VALUES ($1, $2, 1, $3, 'u', 'running', $4, $5, $6, $7, $8, $9, 0)",
    )
    .bind(&id)
    .bind(&fid)
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
        .bind(&id)
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = app
        .api
        .get(&format!("/executions/{id}"), Some(&app.admin))
        .await
        .body["data"]
        .clone();
    assert_eq!(again["steps"].as_array().unwrap().len(), 3);
    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 1, "one execution per request id");

    // A trigger sent twice with the same execution id (a client retrying with its request id) runs once.
    let fresh = flowmate_domain::Id::new().into_string();
    let item = json!({"executionId": fresh, "flowId": fid, "trigger": {"type": "webhook", "requestId": fresh},
                      "message": {"id": fresh, "data": {}, "headers": {}, "metadata": {}}});
    let first = flowmate_domain::Envelope::new("flow.execute", "test", item.clone());
    let second = flowmate_domain::Envelope::new("flow.execute", "test", item);
    app.bus.publish_batch(&[first, second]).await.unwrap();
    let e = finished(app, &fresh).await;
    assert_eq!(e["status"], "succeeded");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.calls.load(Ordering::SeqCst), 1, "called once");
    let e = app
        .api
        .get(&format!("/executions/{fresh}"), Some(&app.admin))
        .await
        .body["data"]
        .clone();
    assert_eq!(e["steps"].as_array().unwrap().len(), 3);
}

/// A flow without outside effects is recorded once, finished: the engine learns that an execution id is taken only
/// when it writes.
async fn a_flow_without_outside_effects_runs_once_per_execution_id(app: &App) {
    let pure = |name: &str| {
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
    };
    let fid = started(app, &app.admin, pure("pure")).await;
    let id = flowmate_domain::Id::new().into_string();
    let item = |flow_id: &str| {
        json!({"executionId": id, "flowId": flow_id, "trigger": {"type": "webhook", "requestId": id},
               "message": {"id": id, "data": {"n": 21}, "attachments": {}, "headers": {}, "metadata": {}}})
    };
    // Two messages with the same execution id (a client retrying with its request id), then the first again (a
    // redelivery after it finished): one execution, its steps once.
    let first = flowmate_domain::Envelope::new("flow.execute", "test", item(&fid));
    let second = flowmate_domain::Envelope::new("flow.execute", "test", item(&fid));
    app.bus.publish_batch(&[first.clone(), second]).await.unwrap();
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["steps"][1]["output"], json!({"n": 42}), "{e}");
    app.bus.publish(&first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listing = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(listing.status, 200);
    assert_eq!(listing.body["meta"]["total"], 1, "{:?}", listing.body);
    let e = finished(app, &id).await;
    assert_eq!(
        steps(&e),
        step_list(&[("start", "succeeded", 1), ("double", "succeeded", 1)])
    );

    // The same id for another flow (a caller-chosen request id): that trigger runs under an id of its own, its
    // message's id, so a redelivery of that message finds it instead of running again.
    let other = started(app, &app.admin, pure("pure too")).await;
    let theirs_message = flowmate_domain::Envelope::new("flow.execute", "test", item(&other));
    app.bus.publish(&theirs_message).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let theirs = loop {
        let r = app
            .api
            .get(&format!("/executions?filter[flowId]={other}"), Some(&app.admin))
            .await;
        assert_eq!(r.status, 200);
        if let Some(e) = r.body["data"]
            .as_array()
            .and_then(|l| l.first())
            .filter(|e| is_final(e))
        {
            break e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no execution of the other flow: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(theirs["id"], theirs_message.id.as_str());
    assert_eq!(theirs["status"], "succeeded", "{theirs}");
    assert_eq!(theirs["trigger"]["requestId"], id.as_str());
    app.bus.publish(&theirs_message).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={other}"), Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 1, "{:?}", r.body);
    let mine = finished(app, &id).await;
    assert_eq!(mine["flowId"], fid.as_str(), "the first execution is untouched");
    assert_eq!(mine["steps"][1]["output"], json!({"n": 42}));
}

async fn executions_are_listed_filtered_counted_and_scoped_to_the_tenant(app: &App) {
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
    let mut ids = Vec::new();
    for ok in [true, false, true] {
        let id = run(app, &app.admin, &fid, json!({"ok": ok})).await;
        finished(app, &id).await;
        ids.push(id);
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

    let list = |q: String| async move { app.api.get(&format!("/executions?{q}"), Some(&app.admin)).await };
    let r = list(format!("filter[flowId]={fid}")).await;
    let got: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()],
        "newest first"
    );
    let r = list(format!(
        "filter[flowId]={fid}&sort=startedAt&page[size]=2&page[number]=2"
    ))
    .await;
    assert_eq!(r.body["data"][0]["id"], ids[2].as_str());
    assert_eq!(
        r.body["meta"],
        json!({"total": 3, "page": 2, "perPage": 2, "totalPages": 2})
    );
    let r = list("filter[status]=failed".into()).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], failed.as_str());
    let r = list("filter[from]=2999-01-01T00:00:00Z".into()).await;
    assert_eq!(r.body["meta"]["total"], 0);
    let r = list("filter[to]=2999-01-01T00:00:00Z".into()).await;
    assert_eq!(r.body["meta"]["total"], 4);
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
        let r = list(q.into()).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.error(), message, "{q}");
    }
    assert_eq!(
        app.api.get("/executions/bad$id", Some(&app.admin)).await.error(),
        "Invalid id"
    );
    let missing = app
        .api
        .get(
            "/executions/01a2247a-0000-7000-8000-000000000000",
            Some(&app.admin),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"errors": [{"message": "No execution found", "code": 404}]})
    );

    let r = app
        .api
        .get("/icenter/executions?groupby=flow", Some(&app.admin))
        .await;
    assert_eq!(r.status, 200);
    let mut counts = r.body["data"].as_array().unwrap().clone();
    counts.sort_by_key(|c| c["count"].as_i64());
    assert_eq!(
        counts,
        vec![json!({"flow": bad, "count": 1}), json!({"flow": fid, "count": 3})]
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
    let r = app
        .api
        .get("/icenter/executions?groupby=tenant", Some(&app.admin))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .api
        .get("/icenter/executions?start=01/02/2026", Some(&app.admin))
        .await;
    assert_eq!(r.error(), "Invalid start parameter: use YYYY-MM-DD");

    // Another tenant sees none of it.
    let other = member(
        app,
        "elsewhere",
        "reader@elsewhere.test",
        &["icenter.read", "flows.control"],
    )
    .await;
    let r = app.api.get("/executions", Some(&other)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["meta"]["total"], 0);
    assert_eq!(
        app.api
            .get(&format!("/executions/{}", ids[0]), Some(&other))
            .await
            .status,
        404
    );
    assert_eq!(
        app.api.get("/icenter/executions", Some(&other)).await.body,
        json!({"data": []})
    );
    assert_eq!(
        app.api
            .post(&format!("/flows/{fid}/run"), Some(&other), &json!({}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.api
            .post(&format!("/executions/{}/retry", ids[0]), Some(&other), &json!({}))
            .await
            .status,
        404
    );
    let nobody = member(app, "plain", "plain@plain.test", &["flows.read"]).await;
    let r = app.api.get("/executions", Some(&nobody)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "MISSING_PERMISSION");
    assert_eq!(app.api.get("/executions", None).await.status, 401);
}

async fn executions_can_be_retried_and_cancelled(app: &App) {
    let fid = started(
        app,
        &app.admin,
        flow(
            "retry me",
            vec![
                node("start", "manual", "run", json!({})),
                node("ok", "transform", "map", json!({"expression": "{\"v\": v + 1}"})),
                node(
                    "check",
                    "transform",
                    "map",
                    json!({"expression": "v > 2 ? {\"v\": v} : $error(\"too small\")"}),
                ),
            ],
            vec![edge("start", "ok"), edge("ok", "check")],
        ),
    )
    .await;
    let first = run(app, &app.admin, &fid, json!({"v": 1})).await;
    let e = finished(app, &first).await;
    assert_eq!(e["status"], "failed");
    let r = app
        .api
        .post(
            &format!("/executions/{first}/retry"),
            Some(&app.admin),
            &json!({"from": "start"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "queued");
    assert_eq!(
        r.body["data"]["trigger"],
        json!({"type": "retry", "retryOf": first})
    );
    let again = finished(app, r.body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "failed");
    assert_eq!(
        again["steps"][0]["output"],
        json!({"v": 1}),
        "the same trigger message"
    );

    let r = app
        .api
        .post(
            &format!("/executions/{first}/retry"),
            Some(&app.admin),
            &json!({"from": "failed"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let resumed = finished(app, r.body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(
        steps(&resumed),
        step_list(&[("check", "failed", 1)]),
        "only the failed step runs again"
    );
    let r = app
        .api
        .post(
            &format!("/executions/{first}/retry"),
            Some(&app.admin),
            &json!({"from": "middle"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "Invalid from: use \"start\" or \"failed\"");

    let ok = run(app, &app.admin, &fid, json!({"v": 5})).await;
    assert_eq!(finished(app, &ok).await["status"], "succeeded");
    let r = app
        .api
        .post(
            &format!("/executions/{ok}/retry"),
            Some(&app.admin),
            &json!({"from": "failed"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.error(),
        "Only a failed execution can be retried from its failed steps."
    );
    let r = app
        .api
        .post(&format!("/executions/{ok}/cancel"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "Execution is already succeeded.");

    let slow = started(
        app,
        &app.admin,
        flow(
            "slow",
            vec![
                node("start", "manual", "run", json!({})),
                node("wait", "delay", "wait", json!({"ms": 600000})),
            ],
            vec![edge("start", "wait")],
        ),
    )
    .await;
    let parked = run(app, &app.admin, &slow, json!({})).await;
    wait_execution(app, &app.admin, &parked, |e| e["waitingUntil"].is_string()).await;
    let r = app
        .api
        .post(
            &format!("/executions/{parked}/cancel"),
            Some(&app.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["status"], "cancelled");
    assert_eq!(r.body["data"]["error"]["name"], "Cancelled");
    let r = app
        .api
        .get(&format!("/executions/{parked}"), Some(&app.admin))
        .await;
    assert_eq!(r.body["data"]["status"], "cancelled");
    assert!(r.body["data"].get("waitingUntil").is_none());
}

async fn the_component_catalogue_lists_the_built_ins(app: &App) {
    let r = app.api.get("/components", Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    let names: Vec<String> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["componentId"].as_str().unwrap(),
                c["function"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "webhook.receive",
            "scheduler.tick",
            "manual.run",
            "http.request",
            "transform.map",
            "filter.check",
            "split.each",
            "delay.wait",
            "respond.reply",
            "log.write"
        ]
    );
    assert_eq!(r.body["data"][0]["trigger"], true);
    assert_eq!(r.body["data"][3]["trigger"], false);
    assert_eq!(app.api.get("/components", None).await.status, 401);
}

async fn save_data_modes_and_truncation_limit_what_is_recorded(app: &App) {
    let mut none = flow(
        "private",
        vec![
            node("start", "manual", "run", json!({})),
            node("t", "transform", "map", json!({"expression": "secret"})),
        ],
        vec![edge("start", "t")],
    );
    none["flowSettings"] = json!({"executions": {"saveData": "none"}});
    let fid = started(app, &app.admin, none).await;
    let e = finished(
        app,
        &run(app, &app.admin, &fid, json!({"secret": "s3cret"})).await,
    )
    .await;
    assert_eq!(e["status"], "succeeded");
    assert!(
        e["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["output"].is_null()),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cret"));

    let big = started(
        app,
        &app.admin,
        flow(
            "big",
            vec![
                node("start", "manual", "run", json!({})),
                node(
                    "grow",
                    "transform",
                    "map",
                    json!({"expression": "{\"blob\": $pad(\"\", 70000, \"x\")}"}),
                ),
            ],
            vec![edge("start", "grow")],
        ),
    )
    .await;
    let e = finished(app, &run(app, &app.admin, &big, json!({})).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        e["steps"][1]["output"],
        json!({"truncated": true, "bytes": 70_011, "limit": 65_536}),
        "outputs over the limit are replaced by a marker"
    );
}

// Standalone-only: the private-network guard is engine logic, the same in both modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_steps_refuse_private_addresses_unless_allowed() {
    let Some(app) =
        crate::harness::spawn_with(Mode::Standalone, |s| s.http_allow_private_network = false).await
    else {
        return;
    };
    let t = target().await;
    let fid = started(
        &app,
        &app.admin,
        flow(
            "ssrf",
            vec![
                node("start", "manual", "run", json!({})),
                node("get", "http", "request", json!({"url": "{{ url }}"})),
            ],
            vec![edge("start", "get")],
        ),
    )
    .await;
    for url in [
        format!("{}/ok", t.base),
        "http://localhost:9/x".to_owned(),
        "http://[::1]:9/".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let e = finished(&app, &run(&app, &app.admin, &fid, json!({"url": url})).await).await;
        assert_eq!(e["status"], "failed", "{url}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("private or loopback address"),
            "{url}: {message}"
        );
    }
    assert_eq!(t.calls.load(Ordering::SeqCst) + t.flaky.load(Ordering::SeqCst), 0);
    app.stop().await;
}

mod standalone_restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Standalone).await else {
            return;
        };
        super::a_delay_parks_the_execution_and_it_resumes_after_a_restart(&mut app).await;
        app.stop().await;
    }
}

mod distributed_restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Distributed).await else {
            return;
        };
        super::a_delay_parks_the_execution_and_it_resumes_after_a_restart(&mut app).await;
        app.stop().await;
    }
}

crate::both_modes!(
    a_manual_run_goes_through_every_step_and_is_recorded,
    flows_that_cannot_run_fail_to_start_with_a_reason_naming_the_problem,
    conditions_mappers_and_fan_out_route_each_message,
    filters_transforms_around_steps_and_steps_bindings_work,
    a_failing_expression_fails_its_step_with_a_clear_message,
    http_steps_call_out_fail_on_errors_and_retry_with_backoff,
    schedules_fire_each_tick_once,
    a_redelivered_trigger_resumes_from_its_checkpoint_without_repeating_steps,
    a_flow_without_outside_effects_runs_once_per_execution_id,
    executions_are_listed_filtered_counted_and_scoped_to_the_tenant,
    executions_can_be_retried_and_cancelled,
    the_component_catalogue_lists_the_built_ins,
    save_data_modes_and_truncation_limit_what_is_recorded,
);
