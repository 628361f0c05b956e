//! The start check: a flow that cannot run fails to start, with a reason naming the problem.

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, flow, node, wait_flow},
};

/// Flows that cannot run, each with the start of the reason its start fails with.
fn unrunnable() -> Vec<(Value, &'static str)> {
    vec![
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
            "node a: \"log\" cannot start a flow; the first node must be webhook, scheduler, manual or amqp.consume",
        ),
        (
            flow(
                "no such component",
                vec![
                    node("a", "manual", "run", json!({})),
                    node("b", "ftp", "upload", json!({})),
                ],
                vec![edge("a", "b")],
            ),
            "node b: unknown component \"ftp\" with function \"upload\"",
        ),
    ]
}

/// Creates `body`, starts it and returns the flow once the failed start left it inactive.
async fn failed_start(app: &App, body: &Value) -> Value {
    let r = app.api.post("/flows", Some(&app.admin), body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"data": {"id": id, "status": "starting"}, "meta": {}})
    );
    wait_flow(app, &app.admin, &id, "inactive").await
}

async fn flows_that_cannot_run_fail_to_start_with_a_reason_naming_the_problem(app: &App) {
    for (body, reason) in unrunnable() {
        let f = failed_start(app, &body).await;
        let got = f["statusReason"].as_str().unwrap_or_default();
        assert!(got.starts_with(reason), "{got:?} should start with {reason:?}");
    }
    let mut cron = flow(
        "cron without scheduler",
        vec![node("a", "manual", "run", json!({}))],
        vec![],
    );
    cron["cron"] = json!("*/5 * * * *");
    let f = failed_start(app, &cron).await;
    assert_eq!(
        f["statusReason"],
        "node a: a flow with a cron must start with the scheduler trigger"
    );
}

crate::both_modes!(flows_that_cannot_run_fail_to_start_with_a_reason_naming_the_problem);
