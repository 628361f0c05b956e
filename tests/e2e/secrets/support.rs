//! What the secrets scenarios share: an API client that keeps every response (for the leak search), a target
//! server that records the credentials it was sent, flow helpers, and the scenario macro.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::Path, http::HeaderMap, routing::get, Json, Router};
use flowmate_testkit::Reply;
use serde_json::{json, Value};

use crate::harness::App;

/// Every response a scenario got, as text.
#[derive(Default)]
pub struct Seen(Mutex<Vec<String>>);

impl Seen {
    /// Keeps `r` (status, headers and body).
    pub fn keep(&self, r: &Reply) {
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let text = format!("{} {} {}", r.status, headers.join("\n"), r.body);
        self.0.lock().unwrap().push(text);
    }

    /// Everything kept.
    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// The API of `app` as `token`, keeping every response in `seen`.
pub struct Client<'a> {
    pub app: &'a App,
    pub token: String,
    pub seen: Arc<Seen>,
}

impl<'a> Client<'a> {
    pub fn new(app: &'a App, token: &str) -> Client<'a> {
        Client {
            app,
            token: token.to_owned(),
            seen: Arc::new(Seen::default()),
        }
    }

    pub fn as_user(&self, token: &str) -> Client<'a> {
        Client {
            app: self.app,
            token: token.to_owned(),
            seen: self.seen.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let r = self.app.api.get(path, Some(&self.token)).await;
        self.seen.keep(&r);
        r
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let r = self.app.api.post(path, Some(&self.token), body).await;
        self.seen.keep(&r);
        r
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        let r = self.app.api.patch(path, Some(&self.token), body).await;
        self.seen.keep(&r);
        r
    }

    pub async fn delete(&self, path: &str) -> Reply {
        let r = self.app.api.delete(path, Some(&self.token)).await;
        self.seen.keep(&r);
        r
    }

    /// `GET` without a token and without following redirects.
    pub async fn anonymous_get(&self, path: &str) -> Reply {
        let r = self.app.api.get(path, None).await;
        self.seen.keep(&r);
        r
    }

    /// `GET` with the token, not following redirects.
    pub async fn get_no_redirect(&self, path: &str) -> Reply {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = self
            .app
            .api
            .send(
                client
                    .get(format!("{}{path}", self.app.api.base))
                    .bearer_auth(&self.token),
            )
            .await;
        self.seen.keep(&r);
        r
    }

    /// Creates a secret; returns its id.
    pub async fn secret(&self, name: &str, kind: &str, value: Value) -> String {
        let r = self
            .post(
                "/secrets",
                &json!({"data": {"name": name, "type": kind, "value": value}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates and starts a flow; returns its id once active.
    pub async fn active_flow(&self, body: Value) -> String {
        let id = self.flow(body).await;
        let r = self.post(&format!("/flows/{id}/start"), &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let flow = self.wait_flow(&id, |f| f["status"] != "starting").await;
        assert_eq!(flow["status"], "active", "{flow}");
        id
    }

    /// Creates a flow; returns its id.
    pub async fn flow(&self, body: Value) -> String {
        let r = self.post("/flows", &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Polls a flow until `done` holds for it.
    pub async fn wait_flow(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.get(&format!("/flows/{id}")).await.body["data"].clone();
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("flow {id} never got there: {last}");
    }

    /// Runs a flow by hand; returns the execution id.
    pub async fn run(&self, flow: &str) -> String {
        let r = self.post(&format!("/flows/{flow}/run"), &json!({})).await;
        assert_eq!(r.status, 202, "{}", r.body);
        r.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Waits for an execution to end; returns it (with steps).
    pub async fn finished(&self, id: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let r = self.get(&format!("/executions/{id}")).await;
            if r.status == 200 {
                last = r.body["data"].clone();
                if matches!(
                    last["status"].as_str(),
                    Some("succeeded" | "failed" | "cancelled")
                ) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} did not end: {last}");
    }
}

/// A manual flow with one `http` step per `(node id, url, secret id)`, in a chain.
pub fn http_flow(name: &str, steps: &[(&str, String, &str)]) -> Value {
    let mut nodes = vec![json!({"id": "start", "componentId": "manual", "function": "run"})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for (id, url, secret) in steps {
        nodes.push(json!({"id": id, "componentId": "http", "function": "request",
                          "fields": {"url": url}, "credentials_id": secret}));
        edges.push(json!({"source": previous, "target": id}));
        previous = id.to_string();
    }
    json!({"name": name, "graph": {"nodes": nodes, "edges": edges}})
}

/// A server on loopback that records the credential headers each path was called with and echoes none of them.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    seen: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
}

impl Target {
    pub async fn start() -> Target {
        let seen: Arc<Mutex<HashMap<String, HashMap<String, String>>>> = Arc::default();
        let store = seen.clone();
        let app = Router::new().route(
            "/to/{name}",
            get(move |Path(name): Path<String>, headers: HeaderMap| {
                let store = store.clone();
                async move {
                    let wanted = ["authorization", "x-api-key", "x-mixed-a"];
                    let got: HashMap<String, String> = wanted
                        .iter()
                        .filter_map(|h| {
                            headers
                                .get(*h)
                                .map(|v| (h.to_string(), v.to_str().unwrap().to_owned()))
                        })
                        .collect();
                    store.lock().unwrap().insert(name.clone(), got);
                    Json(json!({"ok": true, "path": name}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Target { base, seen }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/to/{name}", self.base)
    }

    /// The credential headers `/to/<name>` got last.
    pub fn got(&self, name: &str) -> HashMap<String, String> {
        self.seen.lock().unwrap().get(name).cloned().unwrap_or_default()
    }
}

/// A member of a new tenant holding `permissions`; returns its token.
pub async fn member(app: &App, username: &str, permissions: &[&str]) -> String {
    let t = app
        .api
        .post(
            "/api/tenants",
            Some(&app.admin),
            &json!({"name": format!("t-{username}")}),
        )
        .await;
    let tenant = t.body["id"].as_str().unwrap().to_owned();
    app.create_user(
        json!({"username": username, "password": "member-password", "firstname": "M",
                           "lastname": "E", "tenant": tenant, "permissions": permissions}),
    )
    .await;
    app.api.login(username, "member-password").await
}

/// Generates one test per mode for each scenario, on an app with a 1 MiB body limit (so a 64 KiB value reaches
/// the secret service) and a 1 s token endpoint timeout.
#[macro_export]
macro_rules! secret_scenarios {
    ($($name:ident),* $(,)?) => {
        fn adjust(s: &mut flowmate_config::Settings) {
            s.body_limit_bytes = 1024 * 1024;
            s.secrets_token_timeout = std::time::Duration::from_secs(1);
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
