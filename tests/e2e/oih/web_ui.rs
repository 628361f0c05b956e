//! A replay of the requests OIH's own web UI makes on its flows and users screens, as it does them from its own
//! origin (CORS): login, `/api/v1/users/me`, the users, tenants, roles and permissions lists, creating and editing
//! a user, tenant and role by `_id`, and the flows list, detail, start and stop with the component list.

use reqwest::Method;
use serde_json::{json, Value};

use super::order_sync;
use crate::harness::{spawn_with, App, Mode, ADMIN, ADMIN_PASSWORD};

const UI: &str = "http://localhost:3000";

/// One call as the UI's browser makes it: a preflight first when the call is not a simple one, then the call with
/// `Origin`; both must carry the UI's origin back.
async fn call(app: &App, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let preflight = app
        .api
        .request(Method::OPTIONS, path, None)
        .header("origin", UI)
        .header("access-control-request-method", method.as_str())
        .header("access-control-request-headers", "authorization, content-type");
    let r = app.api.send(preflight).await;
    assert_eq!(
        (r.status.as_u16(), r.header("access-control-allow-origin")),
        (204, Some(UI)),
        "preflight {path}"
    );
    let mut request = app.api.request(method.clone(), path, token).header("origin", UI);
    if let Some(body) = body {
        request = request.json(body);
    }
    let r = app.api.send(request).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(UI),
        "{method} {path}"
    );
    assert!(
        r.status.as_u16() < 300,
        "{method} {path}: {} {:?}",
        r.status,
        r.body
    );
    r.body
}

async fn the_users_screen(app: &App, token: &str) {
    let me = call(app, Method::GET, "/api/v1/users/me", Some(token), None).await;
    assert_eq!(me["username"], ADMIN);
    assert!(
        me["_id"].is_string() && me["roles"][0]["permissions"] == json!(["all"]),
        "{me}"
    );
    let users = call(app, Method::GET, "/api/v1/users", Some(token), None).await;
    for u in users.as_array().unwrap() {
        assert!(u["_id"].is_string(), "the users page reads _id: {u}");
        assert!(
            u["roles"].as_array().unwrap().iter().all(Value::is_string),
            "role ids: {u}"
        );
    }
    let tenants = call(app, Method::GET, "/api/v1/tenants", Some(token), None).await;
    assert!(tenants[0]["_id"].is_string());
    let roles = call(app, Method::GET, "/api/v1/roles", Some(token), None).await;
    let user_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "USER")
        .unwrap()["_id"]
        .clone();
    let permissions = call(app, Method::GET, "/api/v1/permissions", Some(token), None).await;
    assert!(permissions.as_array().unwrap().contains(&json!("flows.read")));

    // Tenant: create, then "Edit" updates it by _id (no duplicate).
    let tenant = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(token),
        Some(&json!({"name": "ui-tenant"})),
    )
    .await;
    let path = format!("/api/v1/tenants/{}", tenant["_id"].as_str().unwrap());
    let edited = call(
        app,
        Method::PATCH,
        &path,
        Some(token),
        Some(&json!({"name": "ui-tenant-2"})),
    )
    .await;
    assert_eq!(edited["name"], "ui-tenant-2");
    let tenants = call(app, Method::GET, "/api/v1/tenants", Some(token), None).await;
    assert_eq!(tenants.as_array().unwrap().len(), 2, "edited, not duplicated");
    // Role: create and update by _id.
    let role = call(
        app,
        Method::POST,
        "/api/v1/roles",
        Some(token),
        Some(&json!({"name": "ui-role", "permissions": ["flows.read"]})),
    )
    .await;
    let path = format!("/api/v1/roles/{}", role["_id"].as_str().unwrap());
    let role = call(
        app,
        Method::PATCH,
        &path,
        Some(token),
        Some(&json!({"permissions": ["flows.read", "flows.control"]})),
    )
    .await;
    assert_eq!(role["permissions"], json!(["flows.read", "flows.control"]));
    // User: create with roles as objects, edit by _id with the whole object, delete.
    let body = json!({"username": "ui@example.com", "password": "ui-password", "firstname": "U", "lastname": "I",
                      "roles": [{"_id": user_role}, {"_id": role["_id"]}]});
    let user = call(app, Method::POST, "/api/v1/users", Some(token), Some(&body)).await;
    let path = format!("/api/v1/users/{}", user["_id"].as_str().unwrap());
    let mut whole = call(app, Method::GET, &path, Some(token), None).await;
    whole["firstname"] = json!("Ulla");
    let edited = call(app, Method::PATCH, &path, Some(token), Some(&whole)).await;
    assert_eq!(
        (&edited["firstname"], edited["roles"].as_array().unwrap().len()),
        (&json!("Ulla"), 2)
    );
    call(app, Method::DELETE, &path, Some(token), None).await;
}

async fn the_flows_screen(app: &App, token: &str) {
    let created = call(
        app,
        Method::POST,
        "/flows",
        Some(token),
        Some(&order_sync("ui flow")),
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let list = call(
        app,
        Method::GET,
        "/flows?page[size]=10&page[number]=1",
        Some(token),
        None,
    )
    .await;
    assert_eq!(
        (&list["meta"]["total"], &list["data"][0]["id"]),
        (&json!(1), &json!(id))
    );
    let components = call(app, Method::GET, "/components", Some(token), None).await;
    assert!(components["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"].is_string()));
    let detail = call(app, Method::GET, &format!("/flows/{id}"), Some(token), None).await;
    assert_eq!(detail["data"]["graph"]["nodes"][0]["id"], "step_1");
    let started = call(
        app,
        Method::POST,
        &format!("/flows/{id}/start"),
        Some(token),
        Some(&json!({})),
    )
    .await;
    assert_eq!(started["data"]["status"], "starting");
    let stopped = call(
        app,
        Method::POST,
        &format!("/flows/{id}/stop"),
        Some(token),
        Some(&json!({})),
    )
    .await;
    assert_eq!(stopped["data"]["status"], "stopping");
    let out = call(app, Method::POST, "/logout", Some(token), Some(&json!({}))).await;
    assert_eq!(out, json!({"loggedOut": true}));
}

async fn replay(mode: Mode) {
    let Some(app) = spawn_with(mode, |s| s.cors_origins = UI.into()).await else {
        return;
    };
    let login = call(
        &app,
        Method::POST,
        "/login",
        None,
        Some(&json!({"username": ADMIN, "password": ADMIN_PASSWORD})),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_owned();
    the_users_screen(&app, &token).await;
    the_flows_screen(&app, &token).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_oih_web_ui_flows_and_users_screens() {
    replay(Mode::Standalone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_oih_web_ui_flows_and_users_screens() {
    replay(Mode::Distributed).await;
}
