//! Authenticated webhooks: HMAC signatures and owners' tokens, the write-only secret, and invalid settings.

use reqwest::Method;
use serde_json::{json, Value};

use super::helpers::{post_raw, recorder, request_id, started, wait_hook_closed, wait_hook_open};
use crate::{
    harness::App,
    support::{finished, wait_flow},
};

const BODY: &str = r#"{"paid":true}"#;

/// The hex HMAC of `body` under `secret` (SHA-512 or SHA-256).
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

/// `POST path` with [`BODY`] as JSON and `headers`.
async fn post(app: &App, path: &str, headers: &[(&str, &str)]) -> flowmate_testkit::Reply {
    post_raw(app, path, Some("application/json"), BODY, headers).await
}

async fn the_secret_is_never_shown(app: &App, fid: &str) -> Value {
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
    flow
}

async fn a_signed_body_passes_and_anything_else_is_403(app: &App, path: &str) {
    post(app, path, &[]).await.assert_error(
        403,
        "Webhook authentication required: sign the body (HMAC) or send a bearer token.",
    );
    let good = sign("top-secret", BODY.as_bytes(), false);
    let r = post(app, path, &[("x-signature", &good)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = finished(app, &request_id(&r)).await;
    assert!(
        e["steps"][1]["output"]["headers"].get("x-signature").is_none(),
        "the HMAC header is stripped"
    );
    let prefixed = format!("sha256={good}");
    let r = post(app, path, &[("x-signature", &prefixed)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    post_raw(
        app,
        path,
        Some("application/json"),
        r#"{"paid":false}"#,
        &[("x-signature", &good)],
    )
    .await
    .assert_error(403, "Webhook signature does not match.");
    // GET signs the empty body, and is refused without.
    app.api.get(path, None).await.assert_error(
        403,
        "Webhook authentication required: sign the body (HMAC) or send a bearer token.",
    );
    let empty = sign("top-secret", b"", false);
    let r = app
        .api
        .send(
            app.api
                .request(Method::GET, path, None)
                .header("x-signature", empty),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Tokens: the owner with webhooks.execute passes; the same permission in another tenant does not.
async fn an_owners_token_passes_and_a_strangers_is_403(app: &App, path: &str) {
    let r = post(app, path, &[("authorization", &format!("Bearer {}", app.admin))]).await;
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
    post(app, path, &[("authorization", &format!("Bearer {stranger}"))])
        .await
        .assert_error(403, "Webhook token is not allowed to run this flow.");
}

/// "***" in an update keeps the secret; sha512 works.
async fn a_masked_secret_sent_back_is_kept(app: &App, fid: &str, flow: &Value) {
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &app.admin, fid, "inactive").await;
    // Once the webhook service has dropped the old settings, the hook opening again below means it has the new ones.
    wait_hook_closed(app, fid).await;
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
    wait_flow(app, &app.admin, fid, "active").await;
    wait_hook_open(app, fid).await;
    let good512 = sign("top-secret", BODY.as_bytes(), true);
    let r = post(app, &format!("/hook/{fid}"), &[("x-signature", &good512)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn invalid_webhook_settings_are_400(app: &App) {
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
    app.api
        .post(
            "/flows",
            Some(&app.admin),
            &recorder(json!({"syncTimeoutMs": 600_000})),
        )
        .await
        .assert_field_error(
            400,
            "syncTimeoutMs must be 1 to 55000 milliseconds.",
            "/flowSettings/webhooks/syncTimeoutMs",
        );
    // Templates never hold a webhook secret: they are stored as given and readable by every templates.read holder.
    let mut template = recorder(json!({"hmacSecret": "top-secret"}));
    template["name"] = json!("shared");
    let r = app.api.post("/templates", Some(&app.admin), &template).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "/flowSettings/webhooks/hmacSecret");
    r.assert_field_error(400, r.error(), "/flowSettings/webhooks/hmacSecret");
}

async fn authenticated_webhooks_need_a_signature_or_an_owners_token(app: &App) {
    let settings =
        json!({"requireWebhookAuth": true, "hmacSecret": "top-secret", "hmacHeaderKey": "X-Signature"});
    let fid = started(app, &app.admin, recorder(settings)).await;
    let flow = the_secret_is_never_shown(app, &fid).await;
    let path = format!("/hook/{fid}");
    a_signed_body_passes_and_anything_else_is_403(app, &path).await;
    an_owners_token_passes_and_a_strangers_is_403(app, &path).await;
    a_masked_secret_sent_back_is_kept(app, &fid, &flow).await;
    invalid_webhook_settings_are_400(app).await;
}

crate::both_modes!(authenticated_webhooks_need_a_signature_or_an_owners_token);
