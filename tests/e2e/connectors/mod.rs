//! The connector steps (API.md §10: `sql.query`, `email.send`, `amqp.publish`) through the public API, in both
//! run modes: a secret made with `POST /secrets`, a flow that uses it started and triggered by webhook, the
//! execution read back; the start-time checks; the catalogue.

mod checks;
mod consume;
mod messaging;
mod sql;

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{finished, started},
};

/// Generates one test per mode for each scenario, on an app whose SQLite directory for `sql.query` exists.
#[macro_export]
macro_rules! connector_scenarios {
    ($($name:ident),* $(,)?) => {
        fn adjust(s: &mut flowmate_config::Settings) {
            let dir = s.data_dir.join("sqlite");
            std::fs::create_dir_all(&dir).unwrap();
            s.sql_sqlite_dir = Some(dir);
        }
        mod standalone {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let mode = $crate::harness::Mode::Standalone;
                    let Some(app) = $crate::harness::spawn_with(mode, super::adjust).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod distributed {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let mode = $crate::harness::Mode::Distributed;
                    let Some(app) = $crate::harness::spawn_with(mode, super::adjust).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// Creates a secret as the admin; returns its id.
pub async fn secret(app: &App, name: &str, kind: &str, value: Value) -> String {
    let r = app
        .api
        .post(
            "/secrets",
            Some(&app.admin),
            &json!({"data": {"name": name, "type": kind, "value": value}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// A webhook flow whose nodes follow each other in order.
pub fn chain(name: &str, nodes: Vec<Value>) -> Value {
    let mut all = vec![json!({"id": "hook", "componentId": "webhook", "function": "receive", "fields": {}})];
    all.extend(nodes);
    let edges: Vec<Value> = all
        .windows(2)
        .map(|w| json!({"source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    json!({"name": name, "graph": {"nodes": all, "edges": edges}})
}

/// Starts `flow` as the admin and posts `body` to its webhook; returns the finished execution.
pub async fn run_hook(app: &App, flow: Value, body: Value) -> Value {
    let id = started(app, &app.admin, flow).await;
    hook(app, &id, body).await
}

/// Posts `body` to flow `id`'s webhook; returns the finished execution.
pub async fn hook(app: &App, id: &str, body: Value) -> Value {
    let r = app.api.post(&format!("/hook/{id}"), None, &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let exec = r.body["data"]["requestId"].as_str().unwrap().to_owned();
    finished(app, &exec).await
}

/// The step `id` of an execution.
pub fn step<'e>(e: &'e Value, id: &str) -> &'e Value {
    e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {e}"))
}
