//! Issue 19's defects: a token from a login right after a change to its user works (no one-second window); the
//! last global admin keeps `all`; page numbers, bulk ids, empty arrays and `meta=` are answered consistently, and
//! the permission check comes before parameter validation.

use serde_json::json;

use super::{create_flow, order_sync};
use crate::harness::{App, ADMIN, ADMIN_PASSWORD};

/// The detail of the last-admin refusal.
const LAST_ADMIN: &str = "the last global admin cannot lose `all`, be disabled or be deleted";

async fn a_login_right_after_a_change_to_the_user_gets_a_valid_token(app: &App) {
    let user = app
        .create_user(
            json!({"username": "quick@example.com", "password": "quick-password", "firstname": "Q",
                            "lastname": "Uick", "permissions": ["flows.read"]}),
        )
        .await;
    let path = format!("/api/users/{}", user["id"].as_str().unwrap());
    // Three rounds: before the fix each login in the same second as the change was rejected.
    for (round, perms) in [
        ["flows.read", "flows.write"],
        ["flows.read", "flows.control"],
        ["flows.read", "flows.bulk"],
    ]
    .iter()
    .enumerate()
    {
        let r = app
            .api
            .patch(&path, Some(&app.admin), &json!({"permissions": perms}))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
        let token = app.api.login("quick@example.com", "quick-password").await;
        let r = app.api.get("/flows", Some(&token)).await;
        assert_eq!(
            r.status.as_u16(),
            200,
            "round {round}: a token issued after the change: {:?}",
            r.body
        );
        let me = app.api.get("/api/users/me", Some(&token)).await;
        assert_eq!(me.body["permissions"], json!(perms));
    }
    // The same for a password change: the old token is refused, the new one works at once.
    let old = app.api.login("quick@example.com", "quick-password").await;
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"password": "other-password"}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let new = app.api.login("quick@example.com", "other-password").await;
    assert_eq!(app.api.get("/flows", Some(&new)).await.status, 200);
    super::until_refused(app, &old).await;
}

async fn the_last_global_admin_keeps_all(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let me_path = format!("/api/users/{}", me["id"].as_str().unwrap());
    let admin_role = app.role_id("ADMIN").await;
    let role_path = format!("/api/roles/{admin_role}");
    for body in [
        json!({"roles": []}),
        json!({"roles": [app.role_id("USER").await]}),
    ] {
        app.api
            .patch(&me_path, Some(&app.admin), &body)
            .await
            .assert_error_detail(403, "FORBIDDEN", LAST_ADMIN);
    }
    app.api
        .patch(
            &role_path,
            Some(&app.admin),
            &json!({"permissions": ["flows.read"]}),
        )
        .await
        .assert_error_detail(403, "FORBIDDEN", LAST_ADMIN);
    app.api
        .delete(&role_path, Some(&app.admin))
        .await
        .assert_error_detail(403, "FORBIDDEN", LAST_ADMIN);
    // Nothing changed: the admin still holds `all` with the token it had.
    assert_eq!(app.api.get("/api/users", Some(&app.admin)).await.status, 200);
    let r = app.api.get(&role_path, Some(&app.admin)).await;
    assert_eq!(r.body["permissions"], json!(["all"]));

    // With a second admin the first may step down; the second is then the last and keeps `all`.
    let second = app
        .create_user(
            json!({"username": "second@example.com", "password": "second-password", "firstname": "S",
                            "lastname": "Econd", "permissions": ["all"]}),
        )
        .await;
    let second_path = format!("/api/users/{}", second["id"].as_str().unwrap());
    let r = app
        .api
        .patch(&me_path, Some(&app.admin), &json!({"roles": []}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(r.body["roles"], json!([]));
    let token = app.api.login("second@example.com", "second-password").await;
    app.api
        .patch(
            &second_path,
            Some(&token),
            &json!({"permissions": ["flows.read"]}),
        )
        .await
        .assert_error_detail(403, "FORBIDDEN", LAST_ADMIN);
    // The former admin's old token was revoked with its rights; logging in again it has no `all`.
    super::until_refused(app, &app.admin).await;
    let former = app.api.login(ADMIN, ADMIN_PASSWORD).await;
    app.api
        .patch(&second_path, Some(&former), &json!({"status": "DISABLED"}))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    app.api
        .delete(&second_path, Some(&former))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    // The second admin restores the first; then the second may go.
    let r = app
        .api
        .patch(&me_path, Some(&token), &json!({"roles": [admin_role]}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let first = app.api.login(ADMIN, ADMIN_PASSWORD).await;
    let r = app.api.delete(&second_path, Some(&first)).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
}

async fn page_numbers_beyond_the_range_are_400_everywhere(app: &App) {
    let message = "Invalid page[number] parameter: must be 1..2147483647";
    for path in ["/flows", "/templates", "/api/users"] {
        for n in ["0", "2147483648", "4294967296", "99999999999999999999", "-1", "x"] {
            app.api
                .get(&format!("{path}?page[number]={n}"), Some(&app.admin))
                .await
                .assert_error(400, message);
        }
    }
    let r = app
        .api
        .get("/flows?page[number]=2147483647", Some(&app.admin))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!([]));
    assert_eq!(r.body["meta"]["page"], 2147483647);
}

async fn malformed_entries_in_id_lists_are_invalid_ids(app: &App) {
    let a = create_flow(app, &app.admin, order_sync("a")).await;
    for path in ["/flows/multiple/start", "/flows/multiple/stop"] {
        let r = app
            .api
            .post(path, Some(&app.admin), &json!([null, 42, "SDSADGSDGH", a]))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
        let invalid =
            |flow_id: &str| json!({"errors": [{"message": "Invalid id", "code": 400, "flowId": flow_id}]});
        assert_eq!(r.body[0], invalid(""), "null is not turned into \"null\"");
        assert_eq!(r.body[1], invalid(""));
        assert_eq!(r.body[2], invalid("SDSADGSDGH"));
        assert_eq!(r.body[3]["data"]["id"], a.as_str());
        assert_eq!(r.body.as_array().unwrap().len(), 4);
    }
    // As PATCH /flows/bulk answers a null entry.
    let r = app
        .api
        .patch("/flows/bulk", Some(&app.admin), &json!([null]))
        .await;
    assert_eq!(
        r.body["data"][0],
        json!({"errors": [{"message": "Invalid id", "code": 400, "flowId": ""}]})
    );
}

async fn an_array_of_non_flows_creates_nothing_and_is_400(app: &App) {
    let r = app
        .api
        .post("/flows", Some(&app.admin), &json!([null, null]))
        .await;
    r.assert_errors(
        400,
        &[
            json!({"message": "A flow must be a JSON object.", "code": 400, "field": "/0"}),
            json!({"message": "A flow must be a JSON object.", "code": 400, "field": "/1"}),
        ],
    );
    app.api
        .post("/flows", Some(&app.admin), &json!([]))
        .await
        .assert_error(400, "No flows given. Expecting a flow or an array of flows");
    let r = app.api.get("/flows", Some(&app.admin)).await;
    assert_eq!(r.body["meta"]["total"], 0, "nothing was created");
}

async fn an_empty_meta_is_400_like_any_other_bad_value(app: &App) {
    for path in [
        "/api/users",
        "/api/users/me",
        "/api/tenants",
        "/api/roles",
        "/api/v1/users",
    ] {
        for bad in ["", "yes"] {
            app.api
                .get(&format!("{path}?meta={bad}"), Some(&app.admin))
                .await
                .assert_error(400, "Invalid meta parameter: use true or false");
        }
    }
}

async fn the_permission_check_comes_before_parameter_validation(app: &App) {
    let nobody = app
        .create_user(
            json!({"username": "nobody@example.com", "password": "nobody-password", "firstname": "N",
                            "lastname": "O"}),
        )
        .await;
    assert_eq!(nobody["permissions"], json!([]));
    let token = app.api.login("nobody@example.com", "nobody-password").await;
    for path in [
        "/flows?page[size]=0",
        "/flows?sort=nope",
        "/templates?filter[status]=nope",
        "/executions?page[number]=0",
        "/api/users?meta=maybe",
        "/api/users?page[size]=5000",
    ] {
        app.api
            .get(path, Some(&token))
            .await
            .assert_error(403, "MISSING_PERMISSION");
    }
}

crate::both_modes!(
    a_login_right_after_a_change_to_the_user_gets_a_valid_token,
    the_last_global_admin_keeps_all,
    page_numbers_beyond_the_range_are_400_everywhere,
    malformed_entries_in_id_lists_are_invalid_ids,
    an_array_of_non_flows_creates_nothing_and_is_400,
    an_empty_meta_is_400_like_any_other_bad_value,
    the_permission_check_comes_before_parameter_validation,
);
