//! What a code step does when its code works (or throws): output, console lines, `each`, retries, scope, and the
//! start-time compile.

use serde_json::{json, Value};

use super::helpers::{code_flow, code_step, run_code};
use crate::{
    harness::App,
    support::{finished, order, run, wait_flow},
};

const TOTAL: &str = "let total = 0;\nfor (const item of data.items) total += item.price * item.qty;\n\
console.log('items', data.items.length);\nconsole.warn('total is', total);\n\
return {order: data.id, who: data.customer.name, total, flow: $flow.id, attempt: $execution.attempt};";

async fn a_code_step_returns_its_output_and_records_its_console_lines(app: &App) {
    let id = code_flow(app, TOTAL, json!({}), json!({})).await;
    let execution = finished(app, &run(app, &app.admin, &id, order()).await).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let step = code_step(&execution);
    assert_eq!(
        step["output"],
        json!({"order": "ord-1", "who": "Ada", "total": 17, "flow": id, "attempt": 1})
    );
    let logs: Vec<(Value, Value)> = step["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].clone(), l["message"].clone()))
        .collect();
    assert_eq!(
        logs,
        [
            (json!("info"), json!("items 2")),
            (json!("warn"), json!("total is 17"))
        ]
    );
    assert!(step["logs"][0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(step.get("logsTruncated").is_none());
}

async fn console_lines_follow_save_data_and_are_bounded(app: &App) {
    let code = "for (let i = 0; i < 120; i++) console.log('line', i);\nif (data.fail) throw new Error('no');\nreturn 1;";
    for (save, fail, kept) in [
        ("none", true, false),
        ("errors", false, false),
        ("errors", true, true),
    ] {
        let id = code_flow(app, code, json!({}), json!({"executions": {"saveData": save}})).await;
        let execution = finished(app, &run(app, &app.admin, &id, json!({"fail": fail})).await).await;
        let step = code_step(&execution);
        assert_eq!(
            step.get("logs").is_some(),
            kept,
            "saveData {save}, failing {fail}: {step}"
        );
        if kept {
            assert_eq!(step["logs"].as_array().unwrap().len(), 100);
            assert_eq!(step["logsTruncated"], 20);
        }
    }
}

async fn each_mode_runs_the_body_once_per_element(app: &App) {
    let mut body = crate::support::flow(
        "each",
        vec![
            crate::support::node("in", "manual", "run", json!({})),
            crate::support::node(
                "code",
                "code",
                "execute",
                json!({"code": "return {sku: data.sku, amount: data.price * data.qty};", "mode": "each"}),
            ),
        ],
        vec![crate::support::edge("in", "code")],
    );
    body["graph"]["nodes"][0]["nodeSettings"] = json!({});
    let id = crate::support::started(app, &app.admin, body).await;
    let items = json!([{"sku": "a", "price": 2, "qty": 3}, {"sku": "b", "price": 1, "qty": 5}]);
    let execution = finished(app, &run(app, &app.admin, &id, items).await).await;
    assert_eq!(
        code_step(&execution)["output"],
        json!([{"sku": "a", "amount": 6}, {"sku": "b", "amount": 5}])
    );
}

async fn a_thrown_error_fails_the_step_with_its_position_and_retries_apply(app: &App) {
    let code = "const n = 1;\nthrow new TypeError('attempt ' + $execution.attempt + ' of ' + n);";
    let id = code_flow(
        app,
        code,
        json!({"retry": {"maxAttempts": 2, "backoffMs": 10}}),
        json!({}),
    )
    .await;
    let execution = finished(app, &run(app, &app.admin, &id, json!({})).await).await;
    assert_eq!(execution["status"], "failed");
    let attempts: Vec<&Value> = execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stepId"] == "code")
        .collect();
    assert_eq!(attempts.len(), 2, "retried once: {execution}");
    let error = &attempts[1]["error"];
    assert_eq!(error["name"], "TypeError");
    assert_eq!(error["message"], "attempt 2 of 1");
    let stack = error["stack"].as_str().unwrap();
    assert!(
        stack.contains("code.js:2:"),
        "the throw is on line 2 of the code: {stack}"
    );
    assert_eq!(execution["error"]["name"], "TypeError");
}

async fn a_syntax_error_fails_the_start_naming_the_node_line_and_column(app: &App) {
    let body = json!({"name": "broken", "graph": {"nodes": [
        {"id": "in", "componentId": "manual", "function": "run"},
        {"id": "calc", "componentId": "code", "function": "execute", "fields": {"code": "const a = 1;\nconst b = ;"}}],
        "edges": [{"source": "in", "target": "calc"}]}});
    let r = app.api.post("/flows", Some(&app.admin), &body).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    let flow = wait_flow(app, &app.admin, &id, "inactive").await;
    let reason = flow["statusReason"].as_str().unwrap();
    assert!(
        reason.starts_with("node calc: fields.code does not compile: SyntaxError:")
            && reason.ends_with("(line 2, column 11)"),
        "{reason}"
    );
}

async fn a_global_set_in_one_run_is_undefined_in_the_next(app: &App) {
    let first = run_code(
        app,
        "globalThis.shared = 'secret'; return typeof shared;",
        1000,
        json!({}),
    )
    .await;
    assert_eq!(code_step(&first)["output"], "string");
    let second = run_code(app, "return typeof shared;", 1000, json!({})).await;
    assert_eq!(code_step(&second)["output"], "undefined");
}

async fn the_catalogue_describes_the_code_step(app: &App) {
    let r = app.api.get("/components", Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    let code = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["componentId"] == "code")
        .cloned()
        .unwrap();
    assert_eq!(code["function"], "execute");
    assert_eq!(code["trigger"], false);
    assert!(code["fields"]["code"].as_str().unwrap().contains("required"));
    assert!(code["fields"]["mode"].as_str().unwrap().contains("each"));
    let doc = app.api.get("/api/openapi.json", None).await.body;
    let step = &doc["components"]["schemas"]["Step"]["properties"];
    assert_eq!(
        step["logs"]["items"]["$ref"], "#/components/schemas/StepLog",
        "{step}"
    );
    assert!(step.get("logsTruncated").is_some());
}

crate::both_modes!(
    a_code_step_returns_its_output_and_records_its_console_lines,
    console_lines_follow_save_data_and_are_bounded,
    each_mode_runs_the_body_once_per_element,
    a_thrown_error_fails_the_step_with_its_position_and_retries_apply,
    a_syntax_error_fails_the_start_naming_the_node_line_and_column,
    a_global_set_in_one_run_is_undefined_in_the_next,
    the_catalogue_describes_the_code_step,
);
