//! What an accepted webhook starts, which hooks are closed, and how bodies are parsed by content type.

use reqwest::Method;
use serde_json::json;

use super::helpers::{
    assert_closed, executions_of, post_raw, recorder, request_id, started, wait_hook_closed,
};
use crate::{
    harness::App,
    support::{self, finished, node, wait_flow},
};

async fn an_accepted_webhook_runs_its_flow_with_the_message_api_md_describes(app: &App) {
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    let rid = flowmate_domain::Id::new().into_string();
    let r = post_raw(
        app,
        &format!("/hook/{fid}/orders/new?x=1&x=2&y=z"),
        Some("application/json"),
        r#"{"id":"ord-1"}"#,
        &[
            ("x-request-id", &rid),
            ("cookie", "session=secret"),
            ("authorization", "Basic c2VjcmV0"),
            ("x-custom", "kept"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"data": {"requestId": rid, "message": "thank you"}})
    );
    assert_eq!(r.header("x-request-id"), Some(rid.as_str()));
    let e = finished(app, &rid).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["trigger"], json!({"type": "webhook", "requestId": rid}));
    assert_eq!(e["steps"][0]["output"], json!({"id": "ord-1"}));
    let msg = &e["steps"][1]["output"];
    assert_eq!(msg["id"], rid.as_str());
    assert_eq!(msg["data"], json!({"id": "ord-1"}));
    assert_eq!(msg["attachments"], json!({}));
    assert_eq!(msg["method"], "POST");
    assert_eq!(msg["url"], format!("/hook/{fid}/orders/new?x=1&x=2&y=z"));
    assert_eq!(msg["query"], json!({"x": ["1", "2"], "y": "z"}));
    assert_eq!(msg["pathSuffix"], "orders/new");
    assert_eq!(msg["params"], json!({"flowId": fid}));
    assert_eq!(
        msg["metadata"],
        json!({"source": {"name": "webhooks", "type": "webhook", "externalExecId": rid}})
    );
    assert_eq!(msg["headers"]["x-custom"], "kept");
    assert!(
        msg["headers"].get("cookie").is_none() && msg["headers"].get("authorization").is_none(),
        "{msg}"
    );
    get_and_head_reach_the_same_flow(app, &fid).await;
}

/// The alias, GET (the query is the data) with a generated request id, and HEAD, which starts nothing.
async fn get_and_head_reach_the_same_flow(app: &App, fid: &str) {
    let r = app.api.get(&format!("/webhooks/{fid}?a=1"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = finished(app, &request_id(&r)).await;
    assert_eq!(e["steps"][0]["output"], json!({"a": "1"}));
    assert_eq!(e["steps"][1]["output"]["method"], "GET");
    let before = executions_of(app, fid).await;
    let r = app
        .api
        .send(app.api.request(Method::HEAD, &format!("/hook/{fid}"), None))
        .await;
    assert_eq!(r.status, 200);
    // The sentinel: a POST after the HEAD. Had the HEAD queued a trigger, it would be ahead of this one's, so once
    // this execution has finished the listing would show both.
    let sentinel = app.api.post(&format!("/hook/{fid}"), None, &json!({})).await;
    assert_eq!(sentinel.status, 200, "{:?}", sentinel.body);
    finished(app, &request_id(&sentinel)).await;
    assert_eq!(
        executions_of(app, fid).await,
        before.as_i64().unwrap() + 1,
        "only the POST started an execution"
    );
}

async fn inactive_unknown_and_non_webhook_flows_are_404(app: &App) {
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let r = app.api.post(&format!("/hook/{missing}"), None, &json!({})).await;
    assert_closed(&r, missing);
    // HEAD answers have no body: the status is all there is.
    let r = app
        .api
        .send(app.api.request(Method::HEAD, &format!("/hook/{missing}"), None))
        .await;
    assert_eq!((r.status.as_u16(), r.body), (404, serde_json::Value::Null));
    app.api
        .post("/hook/bad$id", None, &json!({}))
        .await
        .assert_error(400, "Invalid id");
    let r = app
        .api
        .post("/flows", Some(&app.admin), &recorder(json!({})))
        .await;
    let inactive = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_closed(
        &app.api.post(&format!("/hook/{inactive}"), None, &json!({})).await,
        &inactive,
    );
    // A manual flow's hook never opens, so there is nothing to wait for; the webhook flow started after it opening
    // shows that the webhook service has seen the manual flow's start too.
    let manual = support::started(
        app,
        &app.admin,
        json!({"name": "manual", "graph": {"nodes": [node("in", "manual", "run", json!({}))]}}),
    )
    .await;
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    assert_closed(
        &app.api.post(&format!("/hook/{manual}"), None, &json!({})).await,
        &manual,
    );
    // Stopping closes the hook, as soon as the webhook service sees the stop.
    let r = app.api.post(&format!("/hook/{fid}"), None, &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &app.admin, &fid, "inactive").await;
    wait_hook_closed(app, &fid).await;
    let r = app.api.post(&format!("/hook/{fid}"), None, &json!({})).await;
    assert_closed(&r, &fid);
    app.api
        .send(app.api.request(Method::PUT, &format!("/hook/{fid}"), None))
        .await
        .assert_error(405, "Method not allowed");
}

async fn bodies_are_parsed_by_content_type(app: &App) {
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    let path = format!("/hook/{fid}");
    let cases = [
        ("text/plain", "{\"n\": 1}", json!({"n": 1})),
        ("text/plain; charset=utf-8", "just text", json!("just text")),
        (
            "application/x-www-form-urlencoded",
            "a=1&b=two+words&a=3",
            json!({"a": ["1", "3"], "b": "two words"}),
        ),
        (
            "application/xml",
            "<order id=\"7\"><item>a</item><item>b</item></order>",
            json!({"order": {"_attr": {"id": "7"}, "item": ["a", "b"]}}),
        ),
        ("application/json", "", json!({})),
    ];
    for (content_type, body, expected) in cases {
        let r = post_raw(app, &path, Some(content_type), body, &[]).await;
        assert_eq!(r.status, 200, "{content_type}: {:?}", r.body);
        let e = finished(app, &request_id(&r)).await;
        assert_eq!(e["steps"][0]["output"], expected, "{content_type}");
    }
    post_raw(app, &path, None, "{}", &[])
        .await
        .assert_error(415, "Content-Type is required");
    post_raw(app, &path, Some("application/octet-stream"), "x", &[])
        .await
        .assert_error(
            415,
            "Unsupported Content-Type \"application/octet-stream\": use application/json, text/plain, \
             application/x-www-form-urlencoded or XML",
        );
    let r = post_raw(app, &path, Some("application/json"), "{\"a\":", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("Invalid JSON: "), "{}", r.error());
    r.assert_error(400, r.error());
    let r = post_raw(app, &path, Some("text/xml"), "<a><b></a>", &[]).await;
    assert!(r.error().starts_with("Invalid XML: "), "{}", r.error());
    r.assert_error(400, r.error());
    let big = "x".repeat(crate::harness::BODY_LIMIT + 1);
    post_raw(app, &path, Some("text/plain"), &big, &[])
        .await
        .assert_error(413, "Request body is too large");
}

crate::both_modes!(
    an_accepted_webhook_runs_its_flow_with_the_message_api_md_describes,
    inactive_unknown_and_non_webhook_flows_are_404,
    bodies_are_parsed_by_content_type,
);
