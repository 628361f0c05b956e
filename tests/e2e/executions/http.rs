//! The `http` step: calling out, failing on error statuses unless told otherwise, retrying with backoff, and
//! refusing private addresses.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::{
    harness::{App, Mode},
    support::{edge, finished, flow, node, order, run, started, step_list, steps, target, Target},
};

/// The fields of an `http` node calling `path` on `t`, plus `extra`.
fn call(t: &Target, path: &str, extra: Value) -> Value {
    let mut fields = json!({"url": format!("{}{path}", t.base)});
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    fields
}

/// A manual flow whose second step is `step`.
async fn started_with(app: &App, name: &str, step: Value) -> String {
    let steps = vec![node("start", "manual", "run", json!({})), step];
    started(app, &app.admin, flow(name, steps, vec![edge("start", "get")])).await
}

async fn http_steps_call_out_fail_on_errors_and_retry_with_backoff(app: &App) {
    let t = target().await;
    an_http_step_posts_templated_requests_and_emits_the_answer(app, &t).await;
    an_error_status_fails_the_step_unless_it_is_allowed(app, &t).await;
    a_retried_step_waits_its_backoff_between_attempts(app, &t).await;
}

async fn an_http_step_posts_templated_requests_and_emits_the_answer(app: &App, t: &Target) {
    let post = node(
        "post",
        "http",
        "request",
        call(
            t,
            "/ok",
            json!({"method": "POST", "body": {"order": "{{ id }}"}, "headers": {"x-order": "{{ id }}"}}),
        ),
    );
    let pick = node(
        "pick",
        "transform",
        "map",
        json!({"expression": "{\"status\": status, \"echo\": body.received.order}"}),
    );
    let fid = started(
        app,
        &app.admin,
        flow(
            "http ok",
            vec![node("start", "manual", "run", json!({})), post, pick],
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
}

async fn an_error_status_fails_the_step_unless_it_is_allowed(app: &App, t: &Target) {
    let fid = started_with(
        app,
        "http fails",
        node("get", "http", "request", call(t, "/fail", json!({}))),
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
        call(t, "/fail", json!({"allowErrorStatus": true})),
    );
    allowed["name"] = json!("tolerant");
    let fid = started_with(app, "http tolerant", allowed).await;
    let e = finished(app, &run(app, &app.admin, &fid, json!({})).await).await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["steps"][1]["output"]["status"], 500);
    assert_eq!(e["steps"][1]["output"]["body"], "boom");
}

async fn a_retried_step_waits_its_backoff_between_attempts(app: &App, t: &Target) {
    let mut flaky = node("get", "http", "request", call(t, "/flaky", json!({})));
    flaky["nodeSettings"] = json!({"retry": {"maxAttempts": 3, "backoffMs": 100, "multiplier": 2}});
    let fid = started_with(app, "http flaky", flaky).await;
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

// Standalone-only: the private-network guard is engine logic, the same in both modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_steps_refuse_private_addresses_unless_allowed() {
    let Some(app) =
        crate::harness::spawn_with(Mode::Standalone, |s| s.http_allow_private_network = false).await
    else {
        return;
    };
    let t = target().await;
    let fid = started_with(
        &app,
        "ssrf",
        node("get", "http", "request", json!({"url": "{{ url }}"})),
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

crate::both_modes!(http_steps_call_out_fail_on_errors_and_retry_with_backoff);
