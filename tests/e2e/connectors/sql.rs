//! `sql.query` through the API on every database of the machine (SQLite always; PostgreSQL and MariaDB from
//! `TEST_DATABASE_URL` / `TEST_MYSQL_URL`, required in CI): a webhook's data written, updated and read back with
//! a hostile value kept as a value, and the failures (bad SQL, row cap, timeout) as step errors that carry the
//! database's message and no credential.

use flowmate_testkit::{mysql_url, PgDatabase};
use serde_json::{json, Value};

use super::{chain, run_hook, secret, step};
use crate::harness::App;

/// A database the test can use: its name, URL, placeholder style and the statement that sleeps 5 s.
struct Db {
    name: &'static str,
    url: String,
    mark: &'static str,
    sleep: &'static str,
    _pg: Option<PgDatabase>,
}

impl Db {
    fn marks(&self, n: usize) -> Vec<String> {
        (1..=n)
            .map(|i| match self.mark {
                "?" => "?".to_owned(),
                _ => format!("${i}"),
            })
            .collect()
    }
}

async fn databases() -> Vec<Db> {
    let mut out = vec![Db {
        name: "sqlite",
        url: "sqlite:e2e.db".into(),
        mark: "$",
        sleep: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c WHERE x < 0",
        _pg: None,
    }];
    if let Some(pg) = PgDatabase::create().await {
        out.push(Db {
            name: "postgres",
            url: pg.url.clone(),
            mark: "$",
            sleep: "SELECT pg_sleep(5)",
            _pg: Some(pg),
        });
    }
    if let Some(url) = mysql_url() {
        out.push(Db {
            name: "mariadb",
            url,
            mark: "?",
            sleep: "SELECT SLEEP(5)",
            _pg: None,
        });
    }
    out
}

fn sql_node(id: &str, secret: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": "sql", "function": "query", "fields": fields, "credentials_id": secret})
}

async fn sql_steps_write_update_and_read_a_webhook_s_data(app: &App) {
    for db in databases().await {
        let db_secret = secret(
            app,
            &format!("{} db", db.name),
            "MIXED",
            json!({"payload": {"url": db.url}}),
        )
        .await;
        let t = format!("orders_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let m = db.marks(3);
        let flow = chain(
            &format!("orders to {}", db.name),
            vec![
                sql_node(
                    "create",
                    &db_secret,
                    json!({"query": format!(
                    "CREATE TABLE {t} (id VARCHAR(40) PRIMARY KEY, customer VARCHAR(200), total DOUBLE PRECISION)")}),
                ),
                sql_node(
                    "insert",
                    &db_secret,
                    json!({
                    "query": format!("INSERT INTO {t} (id, customer, total) VALUES ({}, {}, {})", m[0], m[1], m[2]),
                    "params": ["$steps.hook.id", "$steps.hook.customer", "$sum($steps.hook.items.(price * qty))"]}),
                ),
                sql_node(
                    "update",
                    &db_secret,
                    json!({
                    "query": format!("UPDATE {t} SET total = total + {} WHERE id = {}", m[0], m[1]),
                    "params": [3, "$steps.hook.id"]}),
                ),
                sql_node(
                    "select",
                    &db_secret,
                    json!({
                    "query": format!("SELECT id, customer, total FROM {t} WHERE customer = {}", m[0]),
                    "params": ["{{ $steps.hook.customer }}"]}),
                ),
                sql_node("drop", &db_secret, json!({"query": format!("DROP TABLE {t}")})),
            ],
        );
        let hostile = "Ada'); DROP TABLE orders; --";
        let body = json!({"id": "ord-1", "customer": hostile, "items": [{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}]});
        let e = run_hook(app, flow, body).await;
        assert_eq!(e["status"], "succeeded", "{}: {e}", db.name);
        assert_eq!(
            step(&e, "insert")["output"],
            json!({"rowsAffected": 1}),
            "{}",
            db.name
        );
        assert_eq!(
            step(&e, "update")["output"],
            json!({"rowsAffected": 1}),
            "{}",
            db.name
        );
        assert_eq!(
            step(&e, "select")["output"],
            json!([{"id": "ord-1", "customer": hostile, "total": 20.0}]),
            "{}",
            db.name
        );
    }
}

/// `url` with the password `pw-e2e-hidden` (SQLite URLs have none).
fn with_password(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let mut u = reqwest::Url::parse(url).unwrap();
    u.set_password(Some("pw-e2e-hidden")).unwrap();
    u.to_string()
}

/// Runs one `sql.query` node; returns the failed execution and the step's error (name, lowercased message),
/// having checked that no credential appears in the execution.
async fn failing(app: &App, db: &str, url: &str, fields: Value) -> (String, String) {
    let s = secret(
        app,
        "db",
        "MIXED",
        json!({"payload": format!("{{\"url\":\"{url}\"}}")}),
    )
    .await;
    let e = run_hook(
        app,
        chain("fails", vec![sql_node("q", &s, fields.clone())]),
        json!({}),
    )
    .await;
    assert_eq!(e["status"], "failed", "{db}: {e}");
    let all = e.to_string();
    assert!(
        !all.contains("pw-e2e-hidden") && !all.contains(url),
        "{db}: {all}"
    );
    let error = &step(&e, "q")["error"];
    (
        error["name"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_lowercase(),
    )
}

async fn sql_failures_are_step_errors_with_the_database_message_and_no_credential(app: &App) {
    for db in databases().await {
        // PostgreSQL here trusts local connections (the password is ignored); MariaDB checks it, below.
        let url = match db.name {
            "postgres" => with_password(&db.url),
            _ => db.url.clone(),
        };
        let three = "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3";
        let cases = [
            (json!({"query": "SELEC nothing"}), "SQLError", "syntax"),
            (
                json!({"query": three, "maxRows": 2}),
                "SQLError",
                "more than maxrows (2)",
            ),
            (json!({"query": db.sleep, "timeoutMs": 200}), "Timeout", ""),
        ];
        for (fields, name, text) in cases {
            let (got, message) = failing(app, db.name, &url, fields.clone()).await;
            assert_eq!(got, name, "{}: {fields} {message}", db.name);
            assert!(message.contains(text), "{}: {fields} {message}", db.name);
        }
        if db.name == "mariadb" {
            let (got, message) = failing(
                app,
                db.name,
                &with_password(&db.url),
                json!({"query": "SELECT 1"}),
            )
            .await;
            assert_eq!(got, "SQLError", "{message}");
            assert!(message.contains("access denied"), "{message}");
        }
    }
}

crate::connector_scenarios!(
    sql_steps_write_update_and_read_a_webhook_s_data,
    sql_failures_are_step_errors_with_the_database_message_and_no_credential,
);
