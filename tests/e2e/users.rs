//! `/api/users` (API.md §2): create, read, list with filters and the `meta` switch, change, delete.

use serde_json::{json, Value};

use crate::harness::{App, ADMIN};

fn jane() -> Value {
    json!({"username": "Jane@Example.com", "password": "jane-password", "firstname": "Jane", "lastname": "Doe",
           "permissions": ["flows.read"]})
}

async fn creating_a_user_returns_200_without_password_material(app: &App) {
    let user = app.create_user(jane()).await;
    assert_eq!(user["username"], "jane@example.com", "usernames are lower-cased");
    assert_eq!(user["firstname"], "Jane");
    assert_eq!(user["status"], "ACTIVE");
    assert_eq!(user["confirmed"], true);
    assert_eq!(user["permissions"], json!(["flows.read"]));
    assert_eq!(user["roles"], json!([]));
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    assert_eq!(user["tenant"], me["tenant"], "created in the caller's tenant");
    let text = user.to_string();
    assert!(!text.contains("password") && !text.contains("hash"), "{text}");
    assert!(user["createdAt"].as_str().unwrap().ends_with('Z'));
    let token = app.api.login("jane@example.com", "jane-password").await;
    assert_eq!(
        app.api.get("/api/users/me", Some(&token)).await.body["id"],
        user["id"]
    );
}

async fn a_duplicate_username_is_409_whatever_its_case(app: &App) {
    app.create_user(jane()).await;
    let mut again = jane();
    again["username"] = json!("JANE@EXAMPLE.COM");
    let r = app.api.post("/api/users", Some(&app.admin), &again).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "DUPLICATE_KEY", "code": 409}]})
    );
}

async fn invalid_fields_are_400_input_invalid_listing_each(app: &App) {
    let body = json!({"username": "not-an-email", "password": "short", "firstname": " ", "lastname": "Doe",
                      "status": "SLEEPING"});
    let r = app.api.post("/api/users", Some(&app.admin), &body).await;
    assert_eq!(r.status, 400);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/username", "/firstname", "/password", "/status"]);
    for e in r.body["errors"].as_array().unwrap() {
        assert_eq!(e["message"], "INPUT_INVALID");
        assert_eq!(e["code"], 400);
        assert!(e["detail"].is_string());
    }
    let r = app
        .api
        .post(
            "/api/users",
            Some(&app.admin),
            &json!({"firstname": "Only", "password": "short"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["/username", "/lastname", "/password"],
        "missing and invalid fields together"
    );
}

async fn a_field_of_the_wrong_type_is_400_with_its_pointer(app: &App) {
    let mut body = jane();
    body["permissions"] = json!(["flows.read", 7]);
    let r = app.api.post("/api/users", Some(&app.admin), &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["message"], "INPUT_INVALID");
    assert_eq!(r.body["errors"][0]["field"], "/permissions/1");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{:?}", r.body);
}

async fn a_user_is_read_by_id_and_unknown_ids_are_404(app: &App) {
    let user = app.create_user(jane()).await;
    let id = user["id"].as_str().unwrap();
    let r = app.api.get(&format!("/api/users/{id}"), Some(&app.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, user);
    let r = app
        .api
        .get(&format!("/api/users/{id}?meta=true"), Some(&app.admin))
        .await;
    assert_eq!(r.body, json!({"data": user, "meta": {}}));
    let r = app
        .api
        .get(
            "/api/users/01a2247a-0000-7000-8000-000000000000",
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "USER_NOT_FOUND", "code": 404}]})
    );
    let r = app.api.get("/api/users/not$an$id", Some(&app.admin)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Invalid id", "code": 400}]})
    );
}

async fn me_is_served_under_api_users_and_users(app: &App) {
    let a = app.api.get("/api/users/me", Some(&app.admin)).await;
    let b = app.api.get("/users/me", Some(&app.admin)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b.body);
    assert_eq!(a.body["username"], ADMIN);
    assert_eq!(a.body["roles"][0]["name"], "ADMIN");
    assert_eq!(a.body["roles"][0]["permissions"], json!(["all"]));
    assert_eq!(a.body["roles"][0]["isGlobal"], true);
}

async fn the_meta_switch_wraps_lists_with_their_total(app: &App) {
    app.create_user(jane()).await;
    let bare = app.api.get("/api/users", Some(&app.admin)).await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.body.as_array().unwrap().len(), 2);
    for on in ["true", "1"] {
        let r = app
            .api
            .get(&format!("/api/users?meta={on}"), Some(&app.admin))
            .await;
        assert_eq!(r.body["meta"], json!({"total": 2}), "meta={on}");
        assert_eq!(r.body["data"], bare.body);
    }
    for off in ["false", "0"] {
        assert_eq!(
            app.api
                .get(&format!("/users?meta={off}"), Some(&app.admin))
                .await
                .body,
            bare.body
        );
    }
    app.api
        .get("/api/users?meta=maybe", Some(&app.admin))
        .await
        .assert_error(400, "Invalid meta parameter: use true or false");
}

async fn lists_filter_by_repeated_usernames_and_ids_and_page(app: &App) {
    let a = app
        .create_user(
            json!({"username": "a@example.com", "password": "password-a", "firstname": "A", "lastname": "A"}),
        )
        .await;
    app.create_user(
        json!({"username": "b@example.com", "password": "password-b", "firstname": "B", "lastname": "B"}),
    )
    .await;
    let c = app
        .create_user(
            json!({"username": "c@example.com", "password": "password-c", "firstname": "C", "lastname": "C"}),
        )
        .await;
    let r = app
        .api
        .get(
            "/api/users?username=a@example.com&username=C@example.com&meta=true",
            Some(&app.admin),
        )
        .await;
    let names: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a@example.com", "c@example.com"]);
    assert_eq!(r.body["meta"]["total"], 2);
    let r = app
        .api
        .get(
            &format!(
                "/api/users?userId={}&userId={}",
                a["id"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            ),
            Some(&app.admin),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = app
        .api
        .get(
            "/api/users?page[size]=2&page[number]=2&meta=true",
            Some(&app.admin),
        )
        .await;
    assert_eq!(
        r.body["meta"]["total"], 4,
        "total counts every match, not the page"
    );
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    for (bad, message) in [
        ("page[size]=0", "Invalid page[size] parameter: must be 1..1000"),
        ("page[size]=1001", "Invalid page[size] parameter: must be 1..1000"),
        ("page[size]=abc", "Invalid page[size] parameter: must be 1..1000"),
        (
            "page[number]=0",
            "Invalid page[number] parameter: must be 1..2147483647",
        ),
    ] {
        app.api
            .get(&format!("/api/users?{bad}"), Some(&app.admin))
            .await
            .assert_error(400, message);
    }
}

async fn a_user_changes_its_own_names_but_not_its_permissions(app: &App) {
    let user = app.create_user(jane()).await;
    let id = user["id"].as_str().unwrap();
    let token = app.api.login("jane@example.com", "jane-password").await;
    let r = app
        .api
        .patch(
            &format!("/api/users/{id}"),
            Some(&token),
            &json!({"firstname": "Janet"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["firstname"], "Janet");
    assert_eq!(r.body["lastname"], "Doe");
    let r = app
        .api
        .patch(
            &format!("/api/users/{id}"),
            Some(&token),
            &json!({"permissions": ["all"]}),
        )
        .await;
    r.assert_error(403, "MISSING_PERMISSION");
    let r = app
        .api
        .patch(
            &format!("/api/users/{id}"),
            Some(&app.admin),
            &json!({"password": "short"}),
        )
        .await;
    r.assert_errors(
        400,
        &[
            json!({"message": "INPUT_INVALID", "code": 400, "field": "/password",
                 "detail": "password must have at least 8 characters (a deliberate minimum: FlowMate accepts shorter passwords from no client, OIH's included)"}),
        ],
    );
}

async fn disabling_a_user_stops_its_tokens_at_once(app: &App) {
    let user = app.create_user(jane()).await;
    let id = user["id"].as_str().unwrap();
    let token = app.api.login("jane@example.com", "jane-password").await;
    assert_eq!(app.api.get("/api/users/me", Some(&token)).await.status, 200);
    let r = app
        .api
        .patch(
            &format!("/api/users/{id}"),
            Some(&app.admin),
            &json!({"status": "DISABLED"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "DISABLED");
    app.api
        .get("/api/users/me", Some(&token))
        .await
        .assert_error(401, "Token invalid.");
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": "jane@example.com", "password": "jane-password"}),
        )
        .await;
    r.assert_error(401, "ENTITY_DISABLED");
}

async fn nobody_disables_or_deletes_itself(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let path = format!("/api/users/{}", me["id"].as_str().unwrap());
    app.api
        .patch(&path, Some(&app.admin), &json!({"status": "DISABLED"}))
        .await
        .assert_error_detail(403, "FORBIDDEN", "a user cannot disable itself");
    app.api.delete(&path, Some(&app.admin)).await.assert_error_detail(
        403,
        "FORBIDDEN",
        "a user cannot delete itself",
    );
    assert_eq!(app.api.get("/api/users/me", Some(&app.admin)).await.status, 200);
}

async fn deleting_a_user_removes_it_and_stops_its_tokens(app: &App) {
    let user = app.create_user(jane()).await;
    let path = format!("/api/users/{}", user["id"].as_str().unwrap());
    let token = app.api.login("jane@example.com", "jane-password").await;
    let r = app.api.delete(&path, Some(&app.admin)).await;
    assert_eq!(r.status, 200, "OIH's status");
    assert_eq!(r.body, json!({}));
    app.api
        .get("/api/users/me", Some(&token))
        .await
        .assert_error(401, "Token invalid.");
    app.api
        .get(&path, Some(&app.admin))
        .await
        .assert_error(404, "USER_NOT_FOUND");
    app.api
        .delete(&path, Some(&app.admin))
        .await
        .assert_error(404, "USER_NOT_FOUND");
}

crate::both_modes!(
    creating_a_user_returns_200_without_password_material,
    a_duplicate_username_is_409_whatever_its_case,
    invalid_fields_are_400_input_invalid_listing_each,
    a_field_of_the_wrong_type_is_400_with_its_pointer,
    a_user_is_read_by_id_and_unknown_ids_are_404,
    me_is_served_under_api_users_and_users,
    the_meta_switch_wraps_lists_with_their_total,
    lists_filter_by_repeated_usernames_and_ids_and_page,
    a_user_changes_its_own_names_but_not_its_permissions,
    disabling_a_user_stops_its_tokens_at_once,
    nobody_disables_or_deletes_itself,
    deleting_a_user_removes_it_and_stops_its_tokens,
);
