//! API.md §11: OIH's identity paths (`/api/v1/*`), tenants and roles by id, tenant users, `PUT` users, roles as
//! ids or `{"id"}` objects, `_id`, role ids in lists, names changes that keep tokens, the permission vocabulary,
//! `POST /logout`, `/healthcheck` and component ids.

use serde_json::{json, Value};

use super::id_of;
use crate::harness::{App, ADMIN};

async fn every_identity_route_answers_under_api_v1_too(app: &App) {
    for path in ["/users", "/users/me", "/tenants", "/roles", "/permissions"] {
        let a = app.api.get(&format!("/api{path}"), Some(&app.admin)).await;
        let b = app.api.get(&format!("/api/v1{path}"), Some(&app.admin)).await;
        assert_eq!(a.status.as_u16(), 200, "{path}: {:?}", a.body);
        assert_eq!((b.status.as_u16(), &b.body), (200, &a.body), "{path}");
    }
    let r = app
        .api
        .post(
            "/api/v1/users",
            Some(&app.admin),
            &json!({"username": "v1@example.com", "password": "v1-password",
                                                          "firstname": "V", "lastname": "One"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let r = app
        .api
        .get(&format!("/api/v1/users/{}", id_of(&r.body)), Some(&app.admin))
        .await;
    assert_eq!(r.body["username"], "v1@example.com");
    app.api
        .get("/api/v1/users", None)
        .await
        .assert_error(401, "Missing authorization header.");
}

async fn identity_objects_carry_oih_ids_and_lists_give_role_ids(app: &App) {
    let user_role = app.role_id("USER").await;
    let user = app
        .create_user(
            json!({"username": "ids@example.com", "password": "ids-password", "firstname": "I",
                            "lastname": "Ds", "roles": [{"id": user_role}]}),
        )
        .await;
    assert_eq!(user["_id"], user["id"], "{user}");
    assert_eq!(user["roles"][0]["_id"], user_role.as_str(), "expanded on create");
    let list = app.api.get("/api/users", Some(&app.admin)).await.body;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user["id"])
        .unwrap()
        .clone();
    assert_eq!(listed["_id"], user["id"]);
    assert_eq!(
        listed["roles"],
        json!([user_role]),
        "the list gives role ids, as OIH does"
    );
    let one = app
        .api
        .get(&format!("/api/users/{}", id_of(&user)), Some(&app.admin))
        .await
        .body;
    assert_eq!(one["roles"][0]["name"], "USER", "by id: expanded");
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    assert_eq!(me["roles"][0]["name"], "ADMIN", "me: expanded");
    for r in app
        .api
        .get("/api/roles", Some(&app.admin))
        .await
        .body
        .as_array()
        .unwrap()
    {
        assert_eq!(r["_id"], r["id"]);
    }
    for t in app
        .api
        .get("/api/tenants", Some(&app.admin))
        .await
        .body
        .as_array()
        .unwrap()
    {
        assert_eq!(t["_id"], t["id"]);
    }
    // Roles as OIH's web UI sends them back: objects with `_id`, mixed with plain ids.
    let tenant_admin = app.role_id("TENANT_ADMIN").await;
    let r = app
        .api
        .json(
            reqwest::Method::PUT,
            &format!("/api/users/{}", id_of(&user)),
            Some(&app.admin),
            &json!({"roles": [{"_id": user_role, "name": "USER"}, tenant_admin]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "PUT is PATCH: {:?}", r.body);
    let names: Vec<&Value> = r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert_eq!(names, [&json!("USER"), &json!("TENANT_ADMIN")]);
    assert_eq!(r.body["firstname"], "I", "absent fields stay");
    app.api
        .patch(
            &format!("/api/users/{}", id_of(&user)),
            Some(&app.admin),
            &json!({"roles": [7]}),
        )
        .await
        .assert_errors(
            400,
            &[json!({"message": "INPUT_INVALID", "code": 400, "field": "/roles/0",
                     "detail": "data did not match any variant of untagged enum RoleRef at line 1 column 12"})],
        );
}

async fn names_changes_keep_tokens_rights_changes_revoke_them(app: &App) {
    let user = app
        .create_user(
            json!({"username": "names@example.com", "password": "names-password", "firstname": "N",
                            "lastname": "Ames", "permissions": ["flows.read"]}),
        )
        .await;
    let path = format!("/api/users/{}", id_of(&user));
    let token = app.api.login("names@example.com", "names-password").await;
    // What OIH's web UI sends when a user edits its profile: the whole object, roles and permissions unchanged.
    let mut edited = app.api.get("/api/users/me", Some(&token)).await.body;
    edited["firstname"] = json!("Nina");
    edited["lastname"] = json!("Ames-Smith");
    let r = app
        .api
        .json(reqwest::Method::PUT, &path, Some(&app.admin), &edited)
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let r = app
        .api
        .patch(
            &path,
            Some(&token),
            &json!({"firstname": "Nora", "img": "https://x.test/a.png"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let me = app.api.get("/api/users/me", Some(&token)).await;
    assert_eq!(
        (me.status.as_u16(), &me.body["firstname"]),
        (200, &json!("Nora")),
        "names changes keep the token"
    );
    let r = app
        .api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"permissions": ["flows.read", "flows.write"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    super::until_refused(app, &token).await;
}

async fn tenants_by_id_their_users_and_removal(app: &App) {
    let r = app
        .api
        .post("/api/tenants", Some(&app.admin), &json!({"name": "acme"}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let tenant = id_of(&r.body);
    let path = format!("/api/tenants/{tenant}");
    let r = app.api.get(&path, Some(&app.admin)).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["name"], &r.body["_id"]),
        (200, &json!("acme"), &json!(tenant))
    );
    let r = app
        .api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"name": "acme-2", "status": "PENDING"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["name"], &r.body["status"]),
        (200, &json!("acme-2"), &json!("PENDING"))
    );
    let r = app
        .api
        .json(
            reqwest::Method::PUT,
            &path,
            Some(&app.admin),
            &json!({"status": "ACTIVE"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["name"], &r.body["status"]),
        (200, &json!("acme-2"), &json!("ACTIVE"))
    );
    app.api
        .patch(&path, Some(&app.admin), &json!({"status": "SLEEPING"}))
        .await
        .assert_errors(
            400,
            &[
                json!({"message": "INPUT_INVALID", "code": 400, "field": "/status",
                     "detail": "status must be one of ACTIVE, PENDING, DISABLED"}),
            ],
        );
    let dev = app
        .create_user(
            json!({"username": "dev@acme.test", "password": "dev-password", "firstname": "D",
                            "lastname": "Ev", "tenant": tenant, "permissions": ["flows.read"]}),
        )
        .await;
    let r = app.api.get(&format!("{path}/users"), Some(&app.admin)).await;
    assert_eq!(r.status.as_u16(), 200);
    let names: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["username"])
        .collect();
    assert_eq!(names, [&json!("dev@acme.test")]);
    let r = app
        .api
        .get(&format!("{path}/users?meta=true"), Some(&app.admin))
        .await;
    assert_eq!(r.body["meta"], json!({"total": 1}));
    seen_from_inside_and_removed(app, &path, &dev).await;
}

/// A member sees its own tenant only and cannot change it; a tenant with users is not deleted, its user is
/// removed through it, then it goes.
async fn seen_from_inside_and_removed(app: &App, path: &str, dev: &Value) {
    // A member of another tenant sees neither this tenant nor its users.
    let dev_token = app.api.login("dev@acme.test", "dev-password").await;
    let home = app.api.get("/api/users/me", Some(&app.admin)).await.body["tenant"]
        .as_str()
        .unwrap()
        .to_owned();
    app.api
        .get(&format!("/api/tenants/{home}"), Some(&dev_token))
        .await
        .assert_error(404, "tenant not found");
    let r = app.api.get(path, Some(&dev_token)).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["name"]),
        (200, &json!("acme-2")),
        "its own tenant"
    );
    app.api
        .patch(path, Some(&dev_token), &json!({"name": "mine"}))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    // A tenant with users is not deleted; its user is removed through the tenant, then the tenant goes.
    app.api.delete(path, Some(&app.admin)).await.assert_error_detail(
        403,
        "FORBIDDEN",
        "a tenant with users cannot be deleted; delete its users first",
    );
    app.api
        .delete(
            &format!("/api/tenants/{home}/user/{}", id_of(dev)),
            Some(&app.admin),
        )
        .await
        .assert_error(404, "USER_NOT_FOUND");
    let r = app
        .api
        .delete(&format!("{path}/user/{}", id_of(dev)), Some(&app.admin))
        .await;
    assert_eq!((r.status.as_u16(), &r.body), (200, &json!({})), "{:?}", r.body);
    app.api
        .get("/api/users/me", Some(&dev_token))
        .await
        .assert_error(401, "Token invalid.");
    let r = app.api.delete(path, Some(&app.admin)).await;
    assert_eq!((r.status.as_u16(), &r.body), (200, &json!({})));
    app.api
        .get(path, Some(&app.admin))
        .await
        .assert_error(404, "tenant not found");
    app.api
        .get("/api/tenants/SDSADGSDGH", Some(&app.admin))
        .await
        .assert_error(400, "Invalid id");
}

async fn roles_by_id_change_and_delete(app: &App) {
    let r = app
        .api
        .post(
            "/api/roles",
            Some(&app.admin),
            &json!({"name": "ops", "permissions": ["flows.read"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let role = id_of(&r.body);
    let path = format!("/api/roles/{role}");
    let r = app.api.get(&path, Some(&app.admin)).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["name"], &r.body["_id"]),
        (200, &json!("ops"), &json!(role))
    );
    let holder = app
        .create_user(
            json!({"username": "holder@example.com", "password": "holder-password", "firstname": "H",
                            "lastname": "Older", "roles": [role]}),
        )
        .await;
    let token = app.api.login("holder@example.com", "holder-password").await;
    assert_eq!(app.api.get("/flows", Some(&token)).await.status, 200);
    let r = app
        .api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"permissions": ["flows.read", "flows.write"], "description": "Ops"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["permissions"], &r.body["description"]),
        (&json!(["flows.read", "flows.write"]), &json!("Ops"))
    );
    super::until_refused(app, &token).await;
    let token = app.api.login("holder@example.com", "holder-password").await;
    let me = app.api.get("/api/users/me", Some(&token)).await.body;
    assert_eq!(
        me["roles"][0]["permissions"],
        json!(["flows.read", "flows.write"])
    );
    app.api
        .patch(
            &path,
            Some(&app.admin),
            &json!({"permissions": ["no.such.permission"]}),
        )
        .await
        .assert_errors(
            400,
            &[
                json!({"message": "INPUT_INVALID", "code": 400, "field": "/permissions/0",
                     "detail": "unknown permission: no.such.permission"}),
            ],
        );
    app.api
        .patch(&path, Some(&token), &json!({"name": "mine"}))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!((r.status.as_u16(), &r.body), (200, &json!({})));
    app.api
        .get(&path, Some(&app.admin))
        .await
        .assert_error(404, "role not found");
    super::until_refused(app, &token).await;
    let r = app
        .api
        .get(&format!("/api/users/{}", id_of(&holder)), Some(&app.admin))
        .await;
    assert_eq!(r.body["roles"], json!([]), "a deleted role grants nothing");
}

async fn permissions_logout_healthcheck_and_components(app: &App) {
    let r = app.api.get("/api/v1/permissions", Some(&app.admin)).await;
    assert_eq!(r.status.as_u16(), 200);
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for p in [
        "all",
        "flows.read",
        "tenant.all",
        "iam.token.introspect",
        "templates.write",
    ] {
        assert!(names.contains(&p), "{p} in {names:?}");
    }
    app.api
        .get("/api/permissions", None)
        .await
        .assert_error(401, "Missing authorization header.");
    let r = app.api.get("/healthcheck", None).await;
    assert_eq!(
        (r.status.as_u16(), &r.body),
        (200, &app.api.get("/healthz", None).await.body)
    );
    let r = app.api.get("/components", Some(&app.admin)).await;
    assert_eq!(r.status.as_u16(), 200);
    let items = r.body["data"].as_array().unwrap();
    assert!(items.iter().all(|c| c["id"] == c["componentId"]), "{items:?}");
    assert_eq!(r.body["meta"]["total"], items.len());
    let token = app.api.login(ADMIN, crate::harness::ADMIN_PASSWORD).await;
    let r = app.api.post("/logout", Some(&token), &json!({})).await;
    assert_eq!((r.status.as_u16(), &r.body), (200, &json!({"loggedOut": true})));
    app.api
        .get("/api/v1/users/me", Some(&token))
        .await
        .assert_error(401, "Token invalid.");
}

crate::both_modes!(
    every_identity_route_answers_under_api_v1_too,
    identity_objects_carry_oih_ids_and_lists_give_role_ids,
    names_changes_keep_tokens_rights_changes_revoke_them,
    tenants_by_id_their_users_and_removal,
    roles_by_id_change_and_delete,
    permissions_logout_healthcheck_and_components,
);
