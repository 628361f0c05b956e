//! Hostile scripts: each fails its step with the documented error name within 100 ms of its limit, the execution
//! is `failed`, and FlowMate carries on (other flows' executions finish meanwhile; the next run works).

use serde_json::{json, Value};

use super::helpers::{code_flow, code_step, run_code, took_ms};
use crate::{
    harness::App,
    support::{edge, finished, flow, node, run, started, wait_execution},
};

/// Runs `code` with a `limit_ms` time limit and checks its step failed with `name` within 100 ms of the limit
/// (or sooner); returns the error.
async fn fails_with(app: &App, code: &str, limit_ms: u64, name: &str) -> Value {
    let execution = run_code(app, code, limit_ms, json!({"n": 1})).await;
    assert_eq!(execution["status"], "failed", "{code}: {execution}");
    let step = code_step(&execution);
    assert_eq!(step["error"]["name"], name, "{code}: {step}");
    assert!(
        took_ms(&step) <= limit_ms as i64 + 100,
        "{code}: the step took {} ms for a {limit_ms} ms limit",
        took_ms(&step)
    );
    assert_eq!(app.api.get("/healthz", None).await.status, 200);
    step["error"].clone()
}

async fn an_infinite_loop_is_a_timeout_error(app: &App) {
    let error = fails_with(app, "while (true) {}", 300, "TimeoutError").await;
    assert!(error["message"].as_str().unwrap().contains("300 ms"), "{error}");
}

async fn a_long_native_call_is_stopped(app: &App) {
    fails_with(app, "return 'x'.repeat(1e9).length;", 1000, "MemoryLimitError").await;
    fails_with(
        app,
        "return new Array(1e8).fill(0).join().length;",
        1000,
        "MemoryLimitError",
    )
    .await;
}

async fn a_memory_bomb_is_a_memory_limit_error(app: &App) {
    fails_with(
        app,
        "let a = []; for (;;) a.push(new Array(1e6));",
        2000,
        "MemoryLimitError",
    )
    .await;
}

async fn unbounded_recursion_is_a_stack_overflow_error(app: &App) {
    fails_with(
        app,
        "function f(n) { return f(n + 1) + 1; }\nreturn f(0);",
        2000,
        "StackOverflowError",
    )
    .await;
}

async fn require_fetch_and_process_do_not_exist(app: &App) {
    for code in [
        "return require('fs').readFileSync('/etc/passwd');",
        "return fetch('http://127.0.0.1:5432/');",
        "return process.env;",
    ] {
        let error = fails_with(app, code, 1000, "ReferenceError").await;
        assert!(
            error["message"].as_str().unwrap().ends_with("is not defined"),
            "{error}"
        );
    }
}

async fn a_thrown_non_error_value_fails_the_step(app: &App) {
    let error = fails_with(app, "throw 42;", 1000, "Error").await;
    assert_eq!(error["message"], "42");
}

async fn results_that_are_not_json_are_code_errors(app: &App) {
    let error = fails_with(app, "return () => 1;", 1000, "CodeError").await;
    assert!(error["message"].as_str().unwrap().contains("function"), "{error}");
    let error = fails_with(app, "const a = {}; a.self = a; return a;", 1000, "CodeError").await;
    assert!(error["message"].as_str().unwrap().contains("cycle"), "{error}");
}

async fn a_ten_megabyte_result_is_a_code_error(app: &App) {
    let error = fails_with(app, "return 'x'.repeat(10 * 1000 * 1000);", 2000, "CodeError").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("FLOWMATE_CODE_MAX_RESULT_BYTES"),
        "{error}"
    );
}

/// A looping script holds one sandbox thread for its whole limit; meanwhile 50 webhook executions of another
/// flow run and finish, and the script's own execution ends with its timeout after they did.
async fn other_flows_keep_running_while_a_script_loops(app: &App) {
    let looping = code_flow(app, "while (true) {}", json!({"timeoutMs": 3000}), json!({})).await;
    let busy = run(app, &app.admin, &looping, json!({})).await;
    let hook = started(
        app,
        &app.admin,
        flow(
            "orders in",
            vec![
                node("in", "webhook", "receive", json!({})),
                node(
                    "sum",
                    "transform",
                    "map",
                    json!({"expression": "{\"total\": $sum(items.(price * qty))}"}),
                ),
            ],
            vec![edge("in", "sum")],
        ),
    )
    .await;
    // The script is running before the webhooks come in.
    wait_execution(app, &app.admin, &busy, |e| {
        e["status"] == "running" || e["status"] == "queued"
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        let r = app
            .api
            .post(
                &format!("/hook/{hook}"),
                None,
                &json!({"items": [{"price": 2, "qty": 3}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(r.body["data"]["requestId"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let e = finished(app, id).await;
        assert_eq!(e["status"], "succeeded");
        assert_eq!(e["steps"][1]["output"], json!({"total": 6}));
    }
    let script = app
        .api
        .get(&format!("/executions/{busy}"), Some(&app.admin))
        .await;
    assert_ne!(
        script.body["data"]["status"], "failed",
        "the 50 executions finished while the script still ran"
    );
    let script = finished(app, &busy).await;
    assert_eq!(code_step(&script)["error"]["name"], "TimeoutError");
    // And the sandbox is free again.
    let next = run_code(app, "return 2 + 2;", 1000, json!({})).await;
    assert_eq!(code_step(&next)["output"], 4);
}

crate::both_modes!(
    an_infinite_loop_is_a_timeout_error,
    a_long_native_call_is_stopped,
    a_memory_bomb_is_a_memory_limit_error,
    unbounded_recursion_is_a_stack_overflow_error,
    require_fetch_and_process_do_not_exist,
    a_thrown_non_error_value_fails_the_step,
    results_that_are_not_json_are_code_errors,
    a_ten_megabyte_result_is_a_code_error,
    other_flows_keep_running_while_a_script_loops,
);
