//! `flow.call`: a child execution waited for (its output, the links between parent and child, `filter[parentId]`),
//! fire and forget, a failing child, a flow calling itself until the depth limit, and the start check.

use serde_json::{json, Value};

use super::helpers::{manual_flow, output, records, run_to_end, start_fails};
use crate::{
    harness::App,
    support::{edge, finished, node, wait_execution},
};

/// A started child flow: `n` doubled, or a thrown error when `fail` is set.
async fn child_flow(app: &App) -> String {
    manual_flow(
        app,
        "child",
        vec![node(
            "work",
            "code",
            "execute",
            json!({"code": "if (data.fail) throw new Error('child says no'); return {doubled: data.n * 2};"}),
        )],
        vec![edge("in", "work")],
    )
    .await
}

/// A started parent flow calling `child` with `fields`.
async fn parent_flow(app: &App, child: &str, fields: Value) -> String {
    let mut fields = fields;
    fields["flowId"] = json!(child);
    manual_flow(
        app,
        "parent",
        vec![
            node("call", "flow", "call", fields),
            node("after", "transform", "map", json!({"expression": "{\"got\": $}"})),
        ],
        vec![edge("in", "call"), edge("call", "after")],
    )
    .await
}

async fn a_called_flow_runs_as_a_child_and_its_output_comes_back(app: &App) {
    let child = child_flow(app).await;
    let parent = parent_flow(app, &child, json!({"input": "{\"n\": amount}"})).await;
    let execution = run_to_end(app, &parent, json!({"amount": 21})).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(output(&execution, "after"), json!({"got": {"doubled": 42}}));
    let call = records(&execution, "call");
    assert_eq!(call.len(), 2, "a waiting record, then the result: {call:?}");
    assert_eq!(call[0]["status"], "waiting");
    let child_id = call[0]["output"]["executionId"].as_str().unwrap().to_owned();
    assert_eq!(call[1]["status"], "succeeded");
    assert_eq!(execution["children"], json!([child_id]));
    assert_eq!(execution["parentId"], Value::Null);
    let child_execution = finished(app, &child_id).await;
    assert_eq!(child_execution["parentId"], execution["id"]);
    assert_eq!(child_execution["flowId"], child);
    assert_eq!(child_execution["trigger"]["type"], "call");
    let listed = app
        .api
        .get(
            &format!(
                "/executions?filter[parentId]={}",
                execution["id"].as_str().unwrap()
            ),
            Some(&app.admin),
        )
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(listed.body["data"][0]["id"], child_id.as_str());
}

async fn fire_and_forget_goes_on_at_once_and_the_child_still_runs(app: &App) {
    let child = child_flow(app).await;
    let parent = parent_flow(app, &child, json!({"wait": false})).await;
    let execution = run_to_end(app, &parent, json!({"n": 4})).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let started = output(&execution, "call");
    let child_id = started["executionId"].as_str().unwrap().to_owned();
    assert_eq!(
        output(&execution, "after"),
        json!({"got": {"executionId": child_id}})
    );
    let child_execution = finished(app, &child_id).await;
    assert_eq!(child_execution["status"], "succeeded");
    assert_eq!(output(&child_execution, "work"), json!({"doubled": 8}));
    assert_eq!(child_execution["parentId"], execution["id"]);
}

async fn a_failing_child_fails_the_calling_step(app: &App) {
    let child = child_flow(app).await;
    let parent = parent_flow(app, &child, json!({})).await;
    let execution = run_to_end(app, &parent, json!({"fail": true})).await;
    assert_eq!(execution["status"], "failed", "{execution}");
    let error = &execution["error"];
    assert_eq!(error["name"], "ChildExecutionFailed", "{execution}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("ended failed: child says no"), "{message}");
    assert!(records(&execution, "after").is_empty());
}

async fn a_flow_calling_itself_stops_at_the_depth_limit(app: &App) {
    let body = crate::support::flow(
        "recursive",
        vec![
            node("in", "manual", "run", json!({})),
            node("again", "flow", "call", json!({"flowId": "later"})),
        ],
        vec![edge("in", "again")],
    );
    let r = app.api.post("/flows", Some(&app.admin), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let mut graph = r.body["data"]["graph"].clone();
    graph["nodes"][1]["fields"]["flowId"] = json!(id);
    let r = app
        .api
        .patch(
            &format!("/flows/{id}"),
            Some(&app.admin),
            &json!({"graph": graph}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    crate::support::wait_flow(app, &app.admin, &id, "active").await;
    let top = run_to_end(app, &id, json!({})).await;
    assert_eq!(top["status"], "failed", "{top}");
    // Depth 0 (the run) to 8 (FLOWMATE_EXECUTION_MAX_DEPTH) ran; the ninth call was refused.
    let all = app
        .api
        .get(
            &format!("/executions?filter[flowId]={id}&page[size]=50"),
            Some(&app.admin),
        )
        .await;
    assert_eq!(all.body["meta"]["total"], 9, "{:?}", all.body);
    let mut deepest = top.clone();
    while let Some(child) = deepest["children"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(Value::as_str)
    {
        deepest = wait_execution(app, &app.admin, child, crate::support::is_final).await;
    }
    assert_eq!(deepest["error"]["name"], "CallDepthExceeded", "{deepest}");
    assert!(
        deepest["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the most is 8"),
        "{deepest}"
    );
}

async fn the_start_check_refuses_an_unknown_called_flow(app: &App) {
    let body = crate::support::flow(
        "calls-nothing",
        vec![
            node("in", "manual", "run", json!({})),
            node(
                "call",
                "flow",
                "call",
                json!({"flowId": "0123456789abcdef01234567"}),
            ),
        ],
        vec![edge("in", "call")],
    );
    let reason = start_fails(app, body).await;
    assert_eq!(
        reason,
        "node call: fields.flowId: 0123456789abcdef01234567 is not an active flow of this tenant (start the called flow first)"
    );
    let body = crate::support::flow(
        "calls-without-id",
        vec![
            node("in", "manual", "run", json!({})),
            node("call", "flow", "call", json!({})),
        ],
        vec![edge("in", "call")],
    );
    assert_eq!(
        start_fails(app, body).await,
        "node call: fields.flowId is required (the id of the flow to call)"
    );
}

crate::both_modes!(
    a_called_flow_runs_as_a_child_and_its_output_comes_back,
    fire_and_forget_goes_on_at_once_and_the_child_still_runs,
    a_failing_child_fails_the_calling_step,
    a_flow_calling_itself_stops_at_the_depth_limit,
    the_start_check_refuses_an_unknown_called_flow,
);
