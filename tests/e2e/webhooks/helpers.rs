//! Webhook flows, their hooks opening and closing, and raw requests to them.

use std::time::Duration;

use flowmate_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{self, node},
};

/// A webhook flow whose second step records the whole message it received.
pub fn recorder(settings: Value) -> Value {
    json!({"name": "hook", "flowSettings": {"webhooks": settings},
           "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                               node("seen", "transform", "map", json!({"expression": "$msg"}))],
                     "edges": [{"source": "in", "target": "seen"}]}})
}

/// The status of `HEAD /hook/{id}` (no body is read and nothing starts).
pub async fn hook_status(app: &App, id: &str) -> reqwest::StatusCode {
    app.api
        .send(app.api.request(Method::HEAD, &format!("/hook/{id}"), None))
        .await
        .status
}

/// Waits until the webhook service serves flow `id`'s hook: HEAD answers neither 404 (it has not seen the start
/// yet; it learns about it from events) nor 503 (it is still warming up). Panics after 15 s.
pub async fn wait_hook_open(app: &App, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = hook_status(app, id).await;
        if status != 404 && status != 503 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hook of flow {id} did not open within 15 s: HEAD /hook/{id} still answers {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the webhook service has closed flow `id`'s hook: HEAD answers 404 (it learns about a stop from
/// events). Panics after 15 s.
pub async fn wait_hook_closed(app: &App, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = hook_status(app, id).await;
        if status == 404 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hook of flow {id} did not close within 15 s: HEAD /hook/{id} still answers {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates and starts a webhook flow as `token`; returns its id once the webhook service serves its hook.
pub async fn started(app: &App, token: &str, body: Value) -> String {
    let id = support::started(app, token, body).await;
    wait_hook_open(app, &id).await;
    id
}

/// The request id a webhook answered with.
pub fn request_id(r: &Reply) -> String {
    r.body["data"]["requestId"].as_str().unwrap().to_owned()
}

/// `POST path` with a raw body, an optional content type and extra headers.
pub async fn post_raw(
    app: &App,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = app.api.request(Method::POST, path, None).body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.api.send(request).await
}

/// How many executions flow `fid` has.
pub async fn executions_of(app: &App, fid: &str) -> Value {
    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["meta"]["total"].clone()
}

/// Asserts the 404 a hook answers for a flow that is not an active webhook flow.
#[track_caller]
pub fn assert_closed(r: &Reply, fid: &str) {
    r.assert_error(404, &format!("Flow {fid} either does not exist or is inactive."));
}
