//! Flows that run, and members of other tenants to try them with.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::App;

/// Polls flow `id` as `token` until it reads `status` (30 s at most: the confirmation goes through the bus and the
/// execution service, which a loaded machine can hold up); returns it as soon as it does.
pub async fn wait_flow(app: &App, token: &str, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let last = app.api.get(&format!("/flows/{id}"), Some(token)).await.body["data"].clone();
        if last["status"] == status {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow {id} never became {status} within 30 s: {last}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Creates and starts a flow as `token`; returns its id once it reads `active`.
pub async fn started(app: &App, token: &str, body: Value) -> String {
    let r = app.api.post("/flows", Some(token), &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .api
        .post(&format!("/flows/{id}/start"), Some(token), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_flow(app, token, &id, "active").await;
    id
}

/// A user of a tenant of its own, logged in.
pub struct Member {
    /// Its token.
    pub token: String,
    /// Its user id.
    pub id: String,
    /// Its tenant's id.
    pub tenant: String,
}

/// A new tenant named `name`, by id.
pub async fn tenant(app: &App, name: &str) -> String {
    let r = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": name}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates tenant `tenant` and in it `username` holding exactly `permissions`, and logs it in.
pub async fn member(app: &App, tenant: &str, username: &str, permissions: &[&str]) -> Member {
    let t = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": tenant}))
        .await;
    assert_eq!(t.status, 200, "{:?}", t.body);
    let tenant = t.body["id"].as_str().unwrap().to_owned();
    let user = app
        .create_user(
            json!({"username": username, "password": "member-password", "firstname": "M", "lastname": "E",
                   "tenant": tenant, "permissions": permissions}),
        )
        .await;
    Member {
        token: app.api.login(username, "member-password").await,
        id: user["id"].as_str().unwrap().to_owned(),
        tenant,
    }
}
