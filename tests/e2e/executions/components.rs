//! The built-in components at work: a recorded manual run, routing by conditions, mappers and fan-out, filters and
//! transforms around steps, failing expressions, the catalogue, and what is kept of each step's data.

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, node, order, run, started, step_list, steps, wait_flow},
};

/// The flow of [`a_manual_run_goes_through_every_step_and_is_recorded`]: an order in, its total out, logged.
fn orders_flow() -> Value {
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
    )
}

async fn a_manual_run_goes_through_every_step_and_is_recorded(app: &App) {
    let fid = started(app, &app.admin, orders_flow()).await;
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
    r.assert_error(404, &format!("Flow {fid} either does not exist or is inactive."));
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
            "log.write",
            "code.execute",
            "merge.wait",
            "flow.call",
            "wait.event",
            "dedupe.check",
            "error.raise",
            "sql.query",
            "email.send",
            "amqp.publish",
            "amqp.consume"
        ]
    );
    assert_eq!(r.body["data"][0]["trigger"], true);
    assert_eq!(r.body["data"][3]["trigger"], false);
    app.api
        .get("/components", None)
        .await
        .assert_error(401, "Missing authorization header.");
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

crate::both_modes!(
    a_manual_run_goes_through_every_step_and_is_recorded,
    conditions_mappers_and_fan_out_route_each_message,
    filters_transforms_around_steps_and_steps_bindings_work,
    a_failing_expression_fails_its_step_with_a_clear_message,
    the_component_catalogue_lists_the_built_ins,
    save_data_modes_and_truncation_limit_what_is_recorded,
);
