//! The connector steps' start-time checks (a missing field or secret, a secret of the wrong type or without a
//! `url`, a parameter that does not compile: the flow stays inactive with a `statusReason`) and their entries in
//! `GET /components`.

use serde_json::{json, Value};

use super::{chain, secret};
use crate::harness::App;

/// Polls flow `id` until it is inactive with a `statusReason` (30 s at most).
async fn refused(app: &App, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let f = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await.body["data"].clone();
        if f["status"] == "inactive" && !f["statusReason"].is_null() {
            return f;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow {id} was not refused: {f}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

fn node(component: &str, function: &str, fields: Value, secret: Option<&str>) -> Value {
    json!({"id": "c", "componentId": component, "function": function, "fields": fields, "credentials_id": secret})
}

async fn connector_flows_that_cannot_start_say_why(app: &App) {
    let simple = secret(
        app,
        "login",
        "SIMPLE",
        json!({"username": "u", "passphrase": "p"}),
    )
    .await;
    let db = secret(app, "db", "MIXED", json!({"payload": {"url": "sqlite:x.db"}})).await;
    let no_url = secret(app, "no url", "MIXED", json!({"payload": {"host": "h"}})).await;
    let key = secret(app, "key", "API_KEY", json!({"key": "k"})).await;
    let mail = json!({"host": "h", "from": "a@example.com", "to": "b@example.com"});
    let cases = [
        (
            node("sql", "query", json!({"query": "SELECT 1"}), None),
            "node c: sql.query needs credentials_id: a MIXED secret whose payload holds {\"url\"}".to_owned(),
        ),
        (
            node("sql", "query", json!({}), Some(&db)),
            "node c: fields.query is required".to_owned(),
        ),
        (
            node(
                "sql",
                "query",
                json!({"query": "SELECT 1", "params": ["$.a +"]}),
                Some(&db),
            ),
            "node c: fields.params[0] does not compile".to_owned(),
        ),
        (
            node("sql", "query", json!({"query": "SELECT '{{ $.a }}'"}), Some(&db)),
            "node c: fields.query is not templated".to_owned(),
        ),
        (
            node(
                "sql",
                "query",
                json!({"query": "SELECT 1", "maxRows": 0}),
                Some(&db),
            ),
            "node c: fields.maxRows must be a number from 1 to 100000".to_owned(),
        ),
        (
            node("sql", "query", json!({"query": "SELECT 1"}), Some(&simple)),
            format!("node c: sql.query cannot use the SIMPLE secret {simple} (it takes MIXED)"),
        ),
        (
            node("sql", "query", json!({"query": "SELECT 1"}), Some(&no_url)),
            format!("node c: the MIXED secret {no_url} has no url in its payload, which sql.query needs"),
        ),
        (
            node(
                "email",
                "send",
                json!({"from": "a@example.com", "to": "b@example.com"}),
                None,
            ),
            "node c: fields.host is required".to_owned(),
        ),
        (
            node(
                "email",
                "send",
                json!({"host": "h", "from": "a@example.com"}),
                None,
            ),
            "node c: fields.to is required".to_owned(),
        ),
        (
            node(
                "email",
                "send",
                json!({"host": "h", "from": "a@example.com", "to": "b@example.com", "tls": "ssl"}),
                None,
            ),
            "node c: fields.tls must be none, starttls or tls".to_owned(),
        ),
        (
            node("email", "send", mail.clone(), Some(&key)),
            format!("node c: email.send cannot use the API_KEY secret {key} (it takes SIMPLE)"),
        ),
        (
            node("amqp", "publish", json!({"exchange": "x"}), Some(&db)),
            "node c: fields.routingKey is required".to_owned(),
        ),
        (
            node("amqp", "publish", json!({"routingKey": "k"}), Some(&no_url)),
            format!("node c: the MIXED secret {no_url} has no url in its payload, which amqp.publish needs"),
        ),
        (
            node("amqp", "publish", json!({"routingKey": "k"}), None),
            "node c: amqp.publish needs credentials_id: a MIXED secret whose payload holds {\"url\"}"
                .to_owned(),
        ),
    ];
    each_refused(app, cases).await;
}

/// Creates and starts a flow with each node; each start fails with a reason beginning with its text.
async fn each_refused(app: &App, cases: impl IntoIterator<Item = (Value, String)>) {
    for (n, reason) in cases {
        let body = chain("cannot start", vec![n.clone()]);
        let r = app.api.post("/flows", Some(&app.admin), &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["data"]["id"].as_str().unwrap().to_owned();
        let r = app
            .api
            .post(&format!("/flows/{id}/start"), Some(&app.admin), &json!({}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let f = refused(app, &id).await;
        let got = f["statusReason"].as_str().unwrap();
        assert!(
            got.starts_with(&reason),
            "{n}: {got:?} should start with {reason:?}"
        );
    }
}

async fn the_catalogue_describes_the_connector_steps(app: &App) {
    let r = app.api.get("/components", Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    let find = |c: &str, f: &str| {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["componentId"] == c && x["function"] == f)
            .cloned()
            .unwrap_or_else(|| panic!("{c}.{f} is not in the catalogue"))
    };
    let sql = find("sql", "query");
    assert_eq!(sql["trigger"], false);
    for field in ["query", "params", "timeoutMs", "maxRows"] {
        assert!(sql["fields"][field].is_string(), "sql.{field}: {sql}");
    }
    let email = find("email", "send");
    for field in [
        "host", "port", "tls", "from", "to", "cc", "subject", "text", "html",
    ] {
        assert!(email["fields"][field].is_string(), "email.{field}: {email}");
    }
    let amqp = find("amqp", "publish");
    for field in ["exchange", "routingKey"] {
        assert!(amqp["fields"][field].is_string(), "amqp.{field}: {amqp}");
    }
}

crate::connector_scenarios!(
    connector_flows_that_cannot_start_say_why,
    the_catalogue_describes_the_connector_steps,
);
