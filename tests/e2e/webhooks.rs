//! Incoming webhooks (API.md §5) through the gateway, in both run modes: the trigger message, parsing by content
//! type, authentication (HMAC and tokens), write-only secrets, Idempotency-Key, sync replies, rate limits.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::App;

fn node(id: &str, component: &str, function: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": component, "function": function, "fields": fields})
}

/// A webhook flow whose second step records the whole message it received.
fn recorder(settings: Value) -> Value {
    json!({"name": "hook", "flowSettings": {"webhooks": settings},
           "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                               node("seen", "transform", "map", json!({"expression": "$msg"}))],
                     "edges": [{"source": "in", "target": "seen"}]}})
}

async fn wait_flow(app: &App, id: &str, status: &str) -> Value {
    for _ in 0..300 {
        let f = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await.body["data"].clone();
        if f["status"] == status {
            return f;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {id} never became {status}");
}

/// The status of `HEAD /hook/{id}` (no body is read and nothing starts).
async fn hook_status(app: &App, id: &str) -> reqwest::StatusCode {
    app.api
        .send(app.api.request(Method::HEAD, &format!("/hook/{id}"), None))
        .await
        .status
}

/// Waits until the webhook service serves flow `id`'s hook: HEAD answers neither 404 (it has not seen the start
/// yet; it learns about it from events) nor 503 (it is still warming up). Panics after 15 s.
async fn wait_hook_open(app: &App, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = hook_status(app, id).await;
        if status != 404 && status != 503 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("the hook of flow {id} did not open within 15 s: HEAD /hook/{id} still answers {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the webhook service has closed flow `id`'s hook: HEAD answers 404 (it learns about a stop from
/// events). Panics after 15 s.
async fn wait_hook_closed(app: &App, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = hook_status(app, id).await;
        if status == 404 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("the hook of flow {id} did not close within 15 s: HEAD /hook/{id} still answers {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates and starts a flow as `token`; returns its id once it reads `active`.
async fn started_flow(app: &App, token: &str, body: Value) -> String {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(token), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    wait_flow(app, &id, "active").await;
    id
}

/// Creates and starts a webhook flow as `token`; returns its id once the webhook service serves its hook.
async fn started(app: &App, token: &str, body: Value) -> String {
    let id = started_flow(app, token, body).await;
    wait_hook_open(app, &id).await;
    id
}

async fn finished(app: &App, id: &str) -> Value {
    for _ in 0..300 {
        let r = app.api.get(&format!("/executions/{id}"), Some(&app.admin)).await;
        if r.status == 200 && matches!(r.body["data"]["status"].as_str(), Some("succeeded" | "failed")) {
            return r.body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} did not finish");
}

fn request_id(r: &flowmate_testkit::Reply) -> String {
    r.body["data"]["requestId"].as_str().unwrap().to_owned()
}

async fn post_raw(
    app: &App,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> flowmate_testkit::Reply {
    let mut request = app.api.request(Method::POST, path, None).body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.api.send(request).await
}

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

    // The alias, GET (the query is the data) and a generated request id.
    let r = app.api.get(&format!("/webhooks/{fid}?a=1"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = finished(app, &request_id(&r)).await;
    assert_eq!(e["steps"][0]["output"], json!({"a": "1"}));
    assert_eq!(e["steps"][1]["output"]["method"], "GET");
    // HEAD: 200 for an active flow, and nothing starts.
    let before = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await
        .body["meta"]["total"]
        .clone();
    let r = app
        .api
        .send(app.api.request(Method::HEAD, &format!("/hook/{fid}"), None))
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await
        .body["meta"]["total"]
        .clone();
    assert_eq!(before, after);
}

async fn inactive_unknown_and_non_webhook_flows_are_404(app: &App) {
    let missing = "01a2247a-0000-7000-8000-000000000000";
    let r = app.api.post(&format!("/hook/{missing}"), None, &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": format!("Flow {missing} either does not exist or is inactive."), "code": 404}]})
    );
    assert_eq!(
        app.api
            .send(app.api.request(Method::HEAD, &format!("/hook/{missing}"), None))
            .await
            .status,
        404
    );
    assert_eq!(
        app.api.post("/hook/bad$id", None, &json!({})).await.error(),
        "Invalid id"
    );
    let r = app
        .api
        .post("/flows", Some(&app.admin), &recorder(json!({})))
        .await;
    let inactive = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api
            .post(&format!("/hook/{inactive}"), None, &json!({}))
            .await
            .status,
        404
    );
    // A manual flow's hook never opens, so there is nothing to wait for; the webhook flow started after it opening
    // shows that the webhook service has seen the manual flow's start too.
    let manual = started_flow(
        app,
        &app.admin,
        json!({"name": "manual", "graph": {"nodes": [node("in", "manual", "run", json!({}))]}}),
    )
    .await;
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    assert_eq!(
        app.api
            .post(&format!("/hook/{manual}"), None, &json!({}))
            .await
            .status,
        404,
        "only webhook triggers"
    );
    // Stopping closes the hook, as soon as the webhook service sees the stop.
    assert_eq!(
        app.api
            .post(&format!("/hook/{fid}"), None, &json!({}))
            .await
            .status,
        200
    );
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &fid, "inactive").await;
    wait_hook_closed(app, &fid).await;
    let r = app.api.post(&format!("/hook/{fid}"), None, &json!({})).await;
    assert_eq!(r.status, 404, "a stopped flow's hook stays closed: {:?}", r.body);
    let r = app
        .api
        .send(app.api.request(Method::PUT, &format!("/hook/{fid}"), None))
        .await;
    assert_eq!(r.status, 405);
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
    let r = post_raw(app, &path, None, "{}", &[]).await;
    assert_eq!(r.status, 415);
    assert_eq!(r.error(), "Content-Type is required");
    let r = post_raw(app, &path, Some("application/octet-stream"), "x", &[]).await;
    assert_eq!(r.status, 415);
    let r = post_raw(app, &path, Some("application/json"), "{\"a\":", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("Invalid JSON: "), "{}", r.error());
    let r = post_raw(app, &path, Some("text/xml"), "<a><b></a>", &[]).await;
    assert_eq!(r.status, 400);
    let big = "x".repeat(crate::harness::BODY_LIMIT + 1);
    let r = post_raw(app, &path, Some("text/plain"), &big, &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Request body is too large", "code": 413}]})
    );
}

fn sign(secret: &str, body: &[u8], sha512: bool) -> String {
    let algorithm = if sha512 {
        ring::hmac::HMAC_SHA512
    } else {
        ring::hmac::HMAC_SHA256
    };
    ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret.as_bytes()), body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn authenticated_webhooks_need_a_signature_or_an_owners_token(app: &App) {
    let settings =
        json!({"requireWebhookAuth": true, "hmacSecret": "top-secret", "hmacHeaderKey": "X-Signature"});
    let fid = started(app, &app.admin, recorder(settings)).await;
    let flow = app.api.get(&format!("/flows/{fid}"), Some(&app.admin)).await.body["data"].clone();
    assert_eq!(
        flow["flowSettings"]["webhooks"]["hmacSecret"], "***",
        "write-only"
    );
    let listed = app
        .api
        .get("/flows?page[size]=100", Some(&app.admin))
        .await
        .body
        .to_string();
    assert!(
        !listed.contains("top-secret") && !listed.contains("enc:v1:"),
        "never shown"
    );

    let path = format!("/hook/{fid}");
    let body = r#"{"paid":true}"#;
    let r = post_raw(app, &path, Some("application/json"), body, &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.error(),
        "Webhook authentication required: sign the body (HMAC) or send a bearer token."
    );
    let good = sign("top-secret", body.as_bytes(), false);
    let r = post_raw(
        app,
        &path,
        Some("application/json"),
        body,
        &[("x-signature", &good)],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = finished(app, &request_id(&r)).await;
    assert!(
        e["steps"][1]["output"]["headers"].get("x-signature").is_none(),
        "the HMAC header is stripped"
    );
    let prefixed = format!("sha256={good}");
    assert_eq!(
        post_raw(
            app,
            &path,
            Some("application/json"),
            body,
            &[("x-signature", &prefixed)]
        )
        .await
        .status,
        200
    );
    let r = post_raw(
        app,
        &path,
        Some("application/json"),
        r#"{"paid":false}"#,
        &[("x-signature", &good)],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "Webhook signature does not match.");
    // GET signs the empty body, and is refused without.
    assert_eq!(app.api.get(&path, None).await.status, 403);
    let empty = sign("top-secret", b"", false);
    let r = app
        .api
        .send(
            app.api
                .request(Method::GET, &path, None)
                .header("x-signature", empty),
        )
        .await;
    assert_eq!(r.status, 200);
    // Tokens: the owner with webhooks.execute passes; the same permission in another tenant does not.
    let r = post_raw(
        app,
        &path,
        Some("application/json"),
        body,
        &[("authorization", &format!("Bearer {}", app.admin))],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": "strangers"}))
        .await;
    app.create_user(
        json!({"username": "stranger@x.test", "password": "stranger-password", "firstname": "S",
                           "lastname": "T", "tenant": t.body["id"], "permissions": ["webhooks.execute"]}),
    )
    .await;
    let stranger = app.api.login("stranger@x.test", "stranger-password").await;
    let r = post_raw(
        app,
        &path,
        Some("application/json"),
        body,
        &[("authorization", &format!("Bearer {stranger}"))],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "Webhook token is not allowed to run this flow.");

    // "***" in an update keeps the secret; sha512 works.
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &fid, "inactive").await;
    // Once the webhook service has dropped the old settings, the hook opening again below means it has the new ones.
    wait_hook_closed(app, &fid).await;
    let mut settings = flow["flowSettings"].clone();
    settings["webhooks"]["hmacAlgorithm"] = json!("sha512");
    let r = app
        .api
        .patch(
            &format!("/flows/{fid}"),
            Some(&app.admin),
            &json!({"flowSettings": settings}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["flowSettings"]["webhooks"]["hmacSecret"], "***");
    app.api
        .post(&format!("/flows/{fid}/start"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &fid, "active").await;
    wait_hook_open(app, &fid).await;
    let good512 = sign("top-secret", body.as_bytes(), true);
    let r = post_raw(
        app,
        &path,
        Some("application/json"),
        body,
        &[("x-signature", &good512)],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let bad = app
        .api
        .post(
            "/flows",
            Some(&app.admin),
            &recorder(json!({"hmacAlgorithm": "md5", "requireWebhookAuth": "yes"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "/flowSettings/webhooks/requireWebhookAuth",
            "/flowSettings/webhooks/hmacAlgorithm"
        ]
    );
    let r = app
        .api
        .post(
            "/flows",
            Some(&app.admin),
            &recorder(json!({"syncTimeoutMs": 600_000})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"][0]["message"],
        "syncTimeoutMs must be 1 to 55000 milliseconds."
    );
    // Templates never hold a webhook secret: they are stored as given and readable by every templates.read holder.
    let mut template = recorder(json!({"hmacSecret": "top-secret"}));
    template["name"] = json!("shared");
    let r = app.api.post("/templates", Some(&app.admin), &template).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "/flowSettings/webhooks/hmacSecret");
}

async fn an_idempotency_key_repeat_gets_the_first_answer_and_starts_nothing(app: &App) {
    let fid = started(app, &app.admin, recorder(json!({}))).await;
    let path = format!("/hook/{fid}");
    let first = post_raw(
        app,
        &path,
        Some("application/json"),
        "{}",
        &[("idempotency-key", "order-77")],
    )
    .await;
    assert_eq!(first.status, 200);
    let again = post_raw(
        app,
        &path,
        Some("application/json"),
        "{\"other\":1}",
        &[("idempotency-key", "order-77")],
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let other = post_raw(
        app,
        &path,
        Some("application/json"),
        "{}",
        &[("idempotency-key", "order-78")],
    )
    .await;
    assert_ne!(request_id(&other), request_id(&first));
    finished(app, &request_id(&first)).await;
    finished(app, &request_id(&other)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .api
        .get(&format!("/executions?filter[flowId]={fid}"), Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"]["total"], 2, "the repeat started nothing");
}

async fn sync_webhooks_answer_with_the_execution_result(app: &App) {
    let fid = started(
        app,
        &app.admin,
        json!({"name": "sync", "flowSettings": {"webhooks": {"responseMode": "sync"}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                                   node("total", "transform", "map", json!({"expression": "{\"total\": $sum(items.(price * qty))}"})),
                                   node("reply", "respond", "reply", json!({"status": 201, "headers": {"x-total": "{{ $string(total) }}", "set-cookie": "session=stolen"},
                                                                           "body": {"ok": true, "total": "{{ total }}"}}))],
                         "edges": [{"source": "in", "target": "total"}, {"source": "total", "target": "reply"}]}}),
    )
    .await;
    let order = json!({"id": "ord-1", "customer": {"name": "Ada"}, "items": [{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}]});
    let r = app.api.post(&format!("/hook/{fid}"), None, &order).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("x-total"), Some("17"));
    assert_eq!(
        r.header("set-cookie"),
        None,
        "a flow cannot set cookies on the API's origin"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    assert_eq!(r.body, json!({"ok": true, "total": 17}));

    // ?sync=true on an async flow answers with the last step's data.
    let plain = started(app, &app.admin, recorder(json!({}))).await;
    let r = app
        .api
        .post(&format!("/hook/{plain}?sync=true"), None, &json!({"a": 1}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!({"a": 1}));
    assert_eq!(r.body["method"], "POST");

    // Past the sync timeout: 202 with where to look.
    let slow = started(
        app,
        &app.admin,
        json!({"name": "slow", "flowSettings": {"webhooks": {"responseMode": "sync", "syncTimeoutMs": 300}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})), node("wait", "delay", "wait", json!({"ms": 1500}))],
                         "edges": [{"source": "in", "target": "wait"}]}}),
    )
    .await;
    let r = app.api.post(&format!("/hook/{slow}"), None, &json!({})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let rid = request_id(&r);
    assert_eq!(
        r.body,
        json!({"data": {"requestId": rid, "status": "running", "statusUrl": format!("/executions/{rid}")}})
    );
    let e = finished(app, &rid).await;
    assert_eq!(e["status"], "succeeded");

    // A failed sync execution without a respond step is a 500 that points at the execution.
    let failing = started(
        app,
        &app.admin,
        json!({"name": "failing", "flowSettings": {"webhooks": {"responseMode": "sync"}},
               "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                                   node("x", "transform", "map", json!({"expression": "$error(\"no\")"}))],
                         "edges": [{"source": "in", "target": "x"}]}}),
    )
    .await;
    let r = app.api.post(&format!("/hook/{failing}"), None, &json!({})).await;
    assert_eq!(r.status, 500);
    let rid = r.header("x-request-id").unwrap().to_owned();
    assert_eq!(
        r.error(),
        format!("Execution {rid} failed. See /executions/{rid}.")
    );
}

async fn a_flow_over_its_rate_limit_gets_429_with_retry_after(app: &App) {
    // One token per 100 s: the burst is spent at once and the bucket cannot refill a token within the test, so
    // Retry-After is the 100 s the next token takes less the time the three requests took (under 10 s even on a
    // slow machine); timing can no longer decide the exact value.
    let fid = started(
        app,
        &app.admin,
        recorder(json!({"rateLimit": {"perSecond": 0.01, "burst": 2}})),
    )
    .await;
    let path = format!("/hook/{fid}");
    assert_eq!(app.api.post(&path, None, &json!({})).await.status, 200);
    assert_eq!(app.api.post(&path, None, &json!({})).await.status, 200);
    let r = app.api.post(&path, None, &json!({})).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.error(), "Too many requests for this flow. Try again later.");
    let retry_after = r.header("retry-after");
    let seconds: u64 = retry_after
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("retry-after must be a number of whole seconds, got {retry_after:?}"));
    assert!(
        (90..=100).contains(&seconds),
        "retry-after is the wait for the next token (100 s at 0.01/s, less the time since the burst), got {seconds}"
    );
}

crate::both_modes!(
    an_accepted_webhook_runs_its_flow_with_the_message_api_md_describes,
    inactive_unknown_and_non_webhook_flows_are_404,
    bodies_are_parsed_by_content_type,
    authenticated_webhooks_need_a_signature_or_an_owners_token,
    an_idempotency_key_repeat_gets_the_first_answer_and_starts_nothing,
    sync_webhooks_answer_with_the_execution_result,
    a_flow_over_its_rate_limit_gets_429_with_retry_after,
);
