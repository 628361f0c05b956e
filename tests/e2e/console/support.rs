//! What console tests share: a cookie-keeping client that does not follow redirects (so each answer can be
//! checked), form posting with the page's CSRF token, and flows that run.
#![allow(dead_code)]

use std::{collections::HashMap, sync::Mutex, time::Duration};

use reqwest::{header, redirect::Policy, StatusCode};
use serde_json::{json, Value};

use crate::harness::App;

/// An HTTP answer of the console.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Page {
    /// A header as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` value for `name`.
    pub fn cookie(&self, name: &str) -> String {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.set_cookies()))
    }

    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The value of the first input named `name` in `html`.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A browser without JavaScript: keeps cookies, does not follow redirects.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    /// A browser for the app, signed out.
    pub fn new(app: &App) -> Browser {
        Browser {
            base: app.api.base.clone(),
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// A browser signed in as `username`.
    pub async fn signed_in(app: &App, username: &str, password: &str) -> Browser {
        let b = Browser::new(app);
        let r = b.sign_in(username, password).await;
        assert_eq!(r.status, 303, "sign-in of {username} failed: {}", r.body);
        b
    }

    /// The session cookie's value (the token).
    pub fn session(&self) -> Option<String> {
        self.cookies.lock().unwrap().get("flowmate_session").cloned()
    }

    /// Sets a cookie by hand.
    pub fn set(&self, name: &str, value: &str) {
        self.cookies.lock().unwrap().insert(name.into(), value.into());
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> Page {
        let r = r
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if c.contains("Max-Age=0") {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = r.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            body,
        }
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut r = self.client.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// `POST path` with a form.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// `POST path` with the CSRF token of the page at `from` added to `form`.
    pub async fn submit(&self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.get(from).await;
        assert_eq!(page.status, 200, "GET {from}: {}", page.body);
        let csrf = page.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        self.post(path, &all).await
    }

    /// Opens the login page and signs in.
    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        let login = self.get("/console").await;
        assert_eq!(login.status, 200, "{}", login.body);
        let nonce = login.csrf();
        self.post(
            "/console/login",
            &[
                ("csrf", &nonce),
                ("username", username),
                ("password", password),
                ("next", ""),
            ],
        )
        .await
    }
}

/// A flow document: `nodes` as (id, component, function, fields), edges as (source, target).
pub fn flow(name: &str, nodes: &[(&str, &str, &str, Value)], edges: &[(&str, &str)]) -> Value {
    json!({
        "name": name,
        "graph": {
            "nodes": nodes.iter().map(|(id, c, f, fields)| json!({"id": id, "componentId": c, "function": f, "fields": fields})).collect::<Vec<_>>(),
            "edges": edges.iter().map(|(s, t)| json!({"source": s, "target": t})).collect::<Vec<_>>(),
        }
    })
}

/// A webhook flow: `in` receives, `out` maps the data with `expression`.
pub fn hook_flow(name: &str, expression: &str) -> Value {
    flow(
        name,
        &[
            ("in", "webhook", "receive", json!({})),
            ("out", "transform", "map", json!({"expression": expression})),
        ],
        &[("in", "out")],
    )
}

/// Creates a flow as `token`; returns its id.
pub async fn create(app: &App, token: &str, body: &Value) -> String {
    let r = app.api.post("/flows", Some(token), body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Waits until the flow has `status`.
pub async fn wait_flow(app: &App, token: &str, id: &str, status: &str) {
    for _ in 0..300 {
        let r = app.api.get(&format!("/flows/{id}"), Some(token)).await;
        if r.body["data"]["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {id} never became {status}");
}

/// Creates and starts a flow; returns its id once active.
pub async fn started(app: &App, token: &str, body: &Value) -> String {
    let id = create(app, token, body).await;
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(token), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_flow(app, token, &id, "active").await;
    id
}

/// Sends a JSON webhook to an active flow; returns the execution id.
pub async fn webhook(app: &App, flow_id: &str, body: &Value) -> String {
    let r = app.api.post(&format!("/hook/{flow_id}"), None, body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"]["requestId"].as_str().unwrap().to_owned()
}

/// Waits until the execution is finished; returns it.
pub async fn finished(app: &App, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let r = app.api.get(&format!("/executions/{id}"), Some(token)).await;
        if r.status == 200
            && matches!(
                r.body["data"]["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        {
            return r.body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} never finished");
}

/// A member of a new tenant holding `permissions`; returns its token.
pub async fn member(app: &App, tenant: &str, username: &str, permissions: &[&str]) -> String {
    let t = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": tenant}))
        .await;
    let tenant_id = t.body["id"].as_str().unwrap().to_owned();
    app.create_user(
        json!({"username": username, "password": MEMBER_PASSWORD, "firstname": "M",
                           "lastname": "E", "tenant": tenant_id, "permissions": permissions}),
    )
    .await;
    app.api.login(username, MEMBER_PASSWORD).await
}

/// The password of [`member`]s.
pub const MEMBER_PASSWORD: &str = "member-password";
