//! Steps that use secrets: each type applied to an `http` step's request, the leak search (execution records, every
//! API response, the events on the bus, the logs), the start-time checks, and 409 on deleting a secret in use.

use std::{collections::HashMap, sync::Arc};

use base64::{engine::general_purpose::STANDARD, Engine};
use flowmate_bus::SubscribeOptions;
use flowmate_testkit::{captured_logs, Collector, OAuthProvider};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::support::{http_flow, member, Client, Target};
use crate::harness::App;

fn unique(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

/// Every event on the app's bus from now on.
async fn watch_bus(app: &App, stop: &CancellationToken) -> Arc<Collector> {
    let collector = Arc::new(Collector::default());
    let options = SubscribeOptions {
        exclusive: true,
        prefetch: 64,
        ..SubscribeOptions::new(format!("test.leaks.{}", uuid::Uuid::new_v4().simple()), &["#"])
    };
    app.bus
        .subscribe(options, collector.clone(), stop.clone())
        .await
        .unwrap();
    collector
}

/// An OA2_AUTHORIZATION_CODE secret made through the consent round trip against `provider`.
async fn consented(c: &Client<'_>, provider: &OAuthProvider, app_secret: &str, code: &str) -> String {
    let r = c
        .post(
            "/auth-clients",
            &json!({"data": {"name": "leak app", "type": "OA2_AUTHORIZATION_CODE",
            "clientId": "leak-app", "clientSecret": app_secret,
            "endpoints": {"auth": provider.auth_url(), "token": provider.token_url()},
            "redirectUri": "https://flowmate.example.com/callback"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let client = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = c
        .get_no_redirect(&format!("/auth-clients/{client}/start?secretName=drive"))
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    let q: HashMap<String, String> = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let r = c
        .anonymous_get(&format!("/callback?code={code}&state={}", q["state"]))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Searches everything a user or operator could look at — the execution record, every API response, the events on
/// the bus, the logs — for `values`, once the bus carried this test's events (`ours` created, flow `fid` run).
async fn assert_nowhere(
    c: &Client<'_>,
    events: &Collector,
    ours: &[&String],
    fid: &str,
    execution: &Value,
    sentinel: &str,
    values: &[String],
) {
    // Everything a user or operator could look at.
    c.get(&format!("/executions?filter[flowId]={fid}")).await;
    c.get(&format!("/flows/{fid}")).await;
    c.get("/secrets").await;
    c.get("/auth-clients").await;
    for id in ours {
        c.get(&format!("/secrets/{id}")).await;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let announced = |events: &Collector| {
        let all = events.all();
        ours.iter().all(|id| {
            all.iter()
                .any(|e| e.kind == "secret.created" && e.data["secretId"] == id.as_str())
        }) && all
            .iter()
            .any(|e| e.kind == "execution.finished" && e.data["flowId"] == fid)
    };
    while !announced(events) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        announced(events),
        "the bus search covers this test's events: {:?}",
        events.kinds()
    );
    let logs = captured_logs().join("\n");
    assert!(
        logs.contains(sentinel),
        "the log capture saw this test's log step"
    );
    let bus = events
        .all()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let record = execution.to_string();
    let responses = c.seen.text();
    assert!(
        responses.contains(fid) && record.contains(fid),
        "the searches cover this test's data"
    );
    for value in values {
        for (place, text) in [
            ("execution record", &record),
            ("API responses", &responses),
            ("events", &bus),
            ("logs", &logs),
        ] {
            assert!(
                !text.contains(value.as_str()),
                "a secret value appeared in the {place}"
            );
        }
    }
}

async fn a_step_uses_each_type_of_secret_and_no_value_appears_anywhere(app: &App) {
    let stop = CancellationToken::new();
    let events = watch_bus(app, &stop).await;
    let c = Client::new(app, &app.admin);
    let target = Target::start().await;
    let (cc_idp, ac_idp) = (OAuthProvider::start().await, OAuthProvider::start().await);
    let (user, pass) = (unique("leak-user"), unique("leak-pass"));
    let (key, bearer, mixed) = (unique("leak-key"), unique("leak-bearer"), unique("leak-mixed"));
    let (client_secret, app_secret, code) = (unique("leak-cs"), unique("leak-app"), unique("leak-code"));
    let basic = c
        .secret("basic", "SIMPLE", json!({"username": user, "passphrase": pass}))
        .await;
    let api_key = c
        .secret("key", "API_KEY", json!({"key": key, "headerName": "x-api-key"}))
        .await;
    let api_bearer = c.secret("bearer", "API_KEY", json!({"key": bearer})).await;
    let mixed_id = c
        .secret(
            "mixed",
            "MIXED",
            json!({"payload": {"headers": {"x-mixed-a": mixed}}}),
        )
        .await;
    let cc = c
        .secret(
            "cc",
            "OA2_CLIENT_CREDENTIALS",
            json!({"clientId": "leak-client", "clientSecret": client_secret, "tokenUrl": cc_idp.token_url()}),
        )
        .await;
    let ac = consented(&c, &ac_idp, &app_secret, &code).await;
    let sentinel = unique("leak-sentinel");
    let mut flow = http_flow(
        "uses every secret",
        &[
            ("basic", target.url("basic"), &basic),
            ("key", target.url("key"), &api_key),
            ("bearer", target.url("bearer"), &api_bearer),
            ("mixed", target.url("mixed"), &mixed_id),
            ("cc", cc_idp.resource_url(), &cc),
            ("ac", ac_idp.resource_url(), &ac),
        ],
    );
    flow["graph"]["nodes"].as_array_mut().unwrap().push(
        json!({"id": "log", "componentId": "log", "function": "write", "fields": {"message": sentinel}}),
    );
    flow["graph"]["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": "ac", "target": "log"}));
    let fid = c.active_flow(flow).await;
    let execution = c.finished(&c.run(&fid).await).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");

    // The credentials arrived.
    let basic_header = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
    assert_eq!(target.got("basic")["authorization"], basic_header);
    assert_eq!(target.got("key")["x-api-key"], key);
    assert!(!target.got("key").contains_key("authorization"));
    assert_eq!(target.got("bearer")["authorization"], format!("Bearer {bearer}"));
    assert_eq!(target.got("mixed")["x-mixed-a"], mixed);
    assert_eq!(
        (cc_idp.resource_calls(), ac_idp.resource_calls()),
        (1, 1),
        "each token was accepted first time"
    );
    assert_eq!(cc_idp.grants()[0]["client_secret"], client_secret);
    assert_eq!(ac_idp.grants()[0]["code"], code);

    let mut values = vec![
        user,
        pass,
        basic_header,
        key,
        bearer,
        mixed,
        client_secret,
        app_secret,
        code,
    ];
    values.extend(cc_idp.every_token());
    values.extend(ac_idp.every_token());
    assert_eq!(values.len(), 9 + 4, "one token pair from each provider");
    let ours = [&basic, &api_key, &api_bearer, &mixed_id, &cc, &ac];
    assert_nowhere(&c, &events, &ours, &fid, &execution, &sentinel, &values).await;
    stop.cancel();
}

async fn a_flow_naming_a_secret_it_may_not_use_fails_to_start_with_the_reason(app: &App) {
    let c = Client::new(app, &app.admin);
    let other = member(app, "owner-b@example.com", &["secrets.read", "secrets.write"]).await;
    let theirs = c
        .as_user(&other)
        .secret("theirs", "API_KEY", json!({"key": "their-key"}))
        .await;
    let basic = c
        .secret("basic", "SIMPLE", json!({"username": "u", "passphrase": "p"}))
        .await;
    let plain = c.secret("plain", "MIXED", json!({"payload": "just text"})).await;
    let missing = "0190a1b2-0000-7000-8000-000000000000";
    let log_with_secret = json!({"name": "log", "graph": {"nodes": [
        {"id": "start", "componentId": "manual", "function": "run"},
        {"id": "log", "componentId": "log", "function": "write", "credentials_id": basic}],
        "edges": [{"source": "start", "target": "log"}]}});
    let cases = [
        (
            http_flow("missing", &[("call", "https://example.com".into(), missing)]),
            format!("node call: secret {missing} does not exist or belongs to another tenant"),
        ),
        (
            http_flow("theirs", &[("call", "https://example.com".into(), &theirs)]),
            format!("node call: secret {theirs} does not exist or belongs to another tenant"),
        ),
        (
            http_flow("plain", &[("call", "https://example.com".into(), &plain)]),
            format!(
                "node call: the MIXED secret {plain} has no headers in its payload, which http.request needs"
            ),
        ),
        (
            log_with_secret,
            format!("node log: log.write cannot use the SIMPLE secret {basic} (it takes no secret)"),
        ),
    ];
    for (body, reason) in cases {
        let id = c.flow(body).await;
        c.post(&format!("/flows/{id}/start"), &json!({})).await;
        let f = c
            .wait_flow(&id, |f| f["status"] == "inactive" && !f["statusReason"].is_null())
            .await;
        assert_eq!(f["statusReason"], reason.as_str());
    }
    let ok = c
        .active_flow(http_flow(
            "fine",
            &[("call", "https://example.com".into(), &basic)],
        ))
        .await;
    let f = c.get(&format!("/flows/{ok}")).await;
    assert!(f.body["data"]["statusReason"].is_null(), "{}", f.body);
}

async fn a_secret_an_active_flow_uses_is_deleted_only_when_forced(app: &App) {
    let c = Client::new(app, &app.admin);
    let target = Target::start().await;
    let key = c.secret("in use", "API_KEY", json!({"key": "in-use-key"})).await;
    let fid = c
        .active_flow(http_flow("user", &[("call", target.url("in-use"), &key)]))
        .await;
    let r = c.delete(&format!("/secrets/{key}")).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({"errors": [{"code": 409, "message": format!(
        "Secret is used by active flows: {fid}. Stop them first, or delete with ?force=true.")}]})
    );
    let r = c.delete(&format!("/secrets/{key}?force=maybe")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "Invalid force parameter: use true or false");
    let e = c.finished(&c.run(&fid).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");

    let r = c.delete(&format!("/secrets/{key}?force=true")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The deletion reaches every replica's cache through secret.deleted; until then a cached copy may serve.
    let mut last = Value::Null;
    for _ in 0..100 {
        last = c.finished(&c.run(&fid).await).await;
        if last["status"] == "failed" {
            break;
        }
    }
    assert_eq!(last["status"], "failed", "{last}");
    assert_eq!(
        last["error"]["message"],
        format!("secret {key} does not exist or belongs to another tenant")
    );

    // A stopped flow no longer holds its secret.
    let other = c.secret("second", "API_KEY", json!({"key": "second-key"})).await;
    let fid = c
        .active_flow(http_flow(
            "second user",
            &[("call", target.url("second"), &other)],
        ))
        .await;
    assert_eq!(c.delete(&format!("/secrets/{other}")).await.status, 409);
    c.post(&format!("/flows/{fid}/stop"), &json!({})).await;
    c.wait_flow(&fid, |f| f["status"] == "inactive").await;
    let mut status = 0;
    for _ in 0..200 {
        status = c.delete(&format!("/secrets/{other}")).await.status.as_u16();
        if status != 409 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 204, "flow.stopping releases the secret");
}

crate::secret_scenarios!(
    a_step_uses_each_type_of_secret_and_no_value_appears_anywhere,
    a_flow_naming_a_secret_it_may_not_use_fails_to_start_with_the_reason,
    a_secret_an_active_flow_uses_is_deleted_only_when_forced,
);
