//! `wait.event`: parked until its resume URL is called (the body becomes its output), the URL handed to an
//! earlier step through `$execution.resumeUrl`, wrong and reused tokens, timeouts that fail or continue, and a
//! resume after every service restarted.

use serde_json::{json, Value};

use super::helpers::{manual_flow, output, records};
use crate::{
    harness::App,
    support::{edge, finished, node, run, wait_execution},
};

/// An approval flow: `link` hands out the resume URL, `approval` waits (with `fields`), `after` reads the answer.
async fn approval_flow(app: &App, fields: Value) -> String {
    manual_flow(
        app,
        "approval",
        vec![
            node(
                "link",
                "transform",
                "map",
                json!({"expression": "{\"url\": $execution.resumeUrl}"}),
            ),
            node("approval", "wait", "event", fields),
            node("after", "transform", "map", json!({"expression": "$"})),
        ],
        vec![
            edge("in", "link"),
            edge("link", "approval"),
            edge("approval", "after"),
        ],
    )
    .await
}

/// Waits until execution `id` is parked on its `approval` step; returns the step's resume path (path and query).
async fn parked_at_approval(app: &App, id: &str) -> (Value, String) {
    let parked = wait_execution(app, &app.admin, id, |e| {
        e["waitingUntil"].is_string()
            && records(e, "approval")
                .first()
                .is_some_and(|s| s["status"] == "waiting")
    })
    .await;
    assert_eq!(parked["status"], "running");
    let url = records(&parked, "approval")[0]["resumeUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url[url.find("/executions/").unwrap()..].to_owned();
    (parked, path)
}

async fn a_wait_resumes_with_the_body_of_its_resume_call(app: &App) {
    let fid = approval_flow(app, json!({})).await;
    let id = run(app, &app.admin, &fid, json!({"order": 7})).await;
    let (parked, path) = parked_at_approval(app, &id).await;
    // The step before the wait had the same URL in `$execution.resumeUrl` (to mail it, say).
    let handed_out = output(&parked, "link")["url"].as_str().unwrap().to_owned();
    assert!(handed_out.ends_with(&path), "{handed_out} vs {path}");
    assert!(
        path.starts_with(&format!("/executions/{id}/resume/approval?token=")),
        "{path}"
    );

    let wrong = path[..path.len() - 4].to_owned() + "0000";
    app.api
        .post(&wrong, None, &json!({}))
        .await
        .assert_error(403, "Invalid resume token");
    let no_token = format!("/executions/{id}/resume/approval");
    app.api
        .post(&no_token, None, &json!({}))
        .await
        .assert_error(403, "Invalid resume token");
    let other_node = path.replace("/resume/approval?", "/resume/link?");
    app.api
        .post(&other_node, None, &json!({}))
        .await
        .assert_error(404, "No wait.event node link in this execution");

    let r = app
        .api
        .post(&path, None, &json!({"approved": true, "by": "Ada"}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"data": {"executionId": id, "nodeId": "approval", "status": "resumed"}, "meta": {}})
    );
    let again = app.api.post(&path, None, &json!({"approved": false})).await;
    assert_eq!(again.status, 409, "a token is single use: {:?}", again.body);

    let done = finished(app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let approval = records(&done, "approval");
    assert_eq!(approval.len(), 2, "{approval:?}");
    assert_eq!(approval[1]["status"], "succeeded");
    assert_eq!(approval[1]["output"], json!({"approved": true, "by": "Ada"}));
    assert_eq!(output(&done, "after"), json!({"approved": true, "by": "Ada"}));
    let late = app.api.post(&path, None, &json!({})).await;
    late.assert_error(409, "Execution is succeeded: it no longer waits.");
}

async fn a_wait_that_times_out_fails_or_continues_as_configured(app: &App) {
    let failing = approval_flow(app, json!({"timeoutMs": 300})).await;
    let execution = finished(app, &run(app, &app.admin, &failing, json!({})).await).await;
    assert_eq!(execution["status"], "failed", "{execution}");
    assert_eq!(execution["error"]["name"], "WaitTimeout");
    assert_eq!(
        execution["error"]["message"],
        "node approval was not resumed within 300 ms"
    );
    assert!(records(&execution, "after").is_empty());

    let going_on = approval_flow(app, json!({"timeoutMs": 300, "onTimeout": "continue"})).await;
    let execution = finished(app, &run(app, &app.admin, &going_on, json!({})).await).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(output(&execution, "after"), json!({"timedOut": true}));
}

async fn a_wait_survives_a_restart_and_resumes_after_it(app: &mut App) {
    let fid = approval_flow(app, json!({})).await;
    let id = run(app, &app.admin, &fid, json!({})).await;
    let (_, path) = parked_at_approval(app, &id).await;
    app.restart().await;
    let r = app.api.post(&path, None, &json!({"after": "restart"})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let done = finished(app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(output(&done, "after"), json!({"after": "restart"}));
}

crate::both_modes!(
    a_wait_resumes_with_the_body_of_its_resume_call,
    a_wait_that_times_out_fails_or_continues_as_configured,
);

mod standalone_restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_survives_a_restart_and_resumes_after_it() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Standalone).await else {
            return;
        };
        super::a_wait_survives_a_restart_and_resumes_after_it(&mut app).await;
        app.stop().await;
    }
}

mod distributed_restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_survives_a_restart_and_resumes_after_it() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Distributed).await else {
            return;
        };
        super::a_wait_survives_a_restart_and_resumes_after_it(&mut app).await;
        app.stop().await;
    }
}
