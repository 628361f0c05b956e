//! API.md §11's token endpoints: introspection of valid, expired, revoked and disabled users' tokens, and a
//! service-account token from `POST /api/tokens` that works on the API until `DELETE /api/tokens/{id}`.

use flowmate_auth::Claims;
use serde_json::json;

use super::id_of;
use crate::harness::App;

async fn introspect(app: &App, token: &str) -> flowmate_testkit::Reply {
    app.api
        .post(
            "/api/tokens/introspect",
            Some(&app.admin),
            &json!({"token": token}),
        )
        .await
}

async fn introspection_answers_the_account_of_a_valid_token_only(app: &App) {
    let role = app.role_id("USER").await;
    let user = app
        .create_user(
            json!({"username": "svc@example.com", "password": "svc-password", "firstname": "S",
                            "lastname": "Vc", "roles": [role], "permissions": ["flows.read"]}),
        )
        .await;
    let token = app.api.login("svc@example.com", "svc-password").await;
    let r = introspect(app, &token).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!((&r.body["_id"], &r.body["id"]), (&user["id"], &user["id"]));
    assert_eq!(r.body["username"], "svc@example.com");
    assert_eq!(r.body["tenant"], user["tenant"]);
    assert_eq!(r.body["roles"][0]["name"], "USER", "roles as objects");
    let perms = r.body["permissions"].as_array().unwrap();
    assert!(
        perms.contains(&json!("flows.read")) && perms.contains(&json!("tenant.profile.read")),
        "{perms:?}"
    );
    let r = app
        .api
        .post(
            "/api/v1/tokens/introspect",
            Some(&app.admin),
            &json!({"token": token}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "under /api/v1 too");

    // Expired (signed with the real key), malformed, and unknown: 404.
    let now = chrono::Utc::now().timestamp();
    let expired = app
        .sign(&Claims {
            sub: id_of(&user),
            tenant: user["tenant"].as_str().unwrap().into(),
            username: "svc@example.com".into(),
            permissions: vec!["flows.read".into()],
            roles: vec![],
            jti: uuid::Uuid::now_v7().to_string(),
            iat: now - 7200,
            iat_ms: None,
            exp: now - 60,
        })
        .await;
    for bad in [expired.as_str(), "not-a-jwt"] {
        introspect(app, bad).await.assert_error(404, "token not found");
    }
    app.api
        .post("/api/tokens/introspect", Some(&app.admin), &json!({}))
        .await
        .assert_error(400, "token is required");
    // Only with iam.token.introspect.
    app.api
        .post("/api/tokens/introspect", Some(&token), &json!({"token": token}))
        .await
        .assert_error(403, "MISSING_PERMISSION");

    // Revoked (logout), and a disabled user's: 404.
    let other = app.api.login("svc@example.com", "svc-password").await;
    assert_eq!(
        app.api.post("/logout", Some(&other), &json!({})).await.status,
        200
    );
    introspect(app, &other).await.assert_error(404, "token not found");
    let fresh = app.api.login("svc@example.com", "svc-password").await;
    let path = format!("/api/users/{}", id_of(&user));
    let r = app
        .api
        .patch(&path, Some(&app.admin), &json!({"status": "DISABLED"}))
        .await;
    assert_eq!(r.status.as_u16(), 200);
    introspect(app, &fresh).await.assert_error(404, "token not found");
}

async fn a_service_account_token_works_until_it_is_deleted(app: &App) {
    let account = app
        .create_user(
            json!({"username": "robot@example.com", "password": "robot-password", "firstname": "R",
                            "lastname": "Obot", "permissions": ["flows.read", "flows.write"]}),
        )
        .await;
    let r = app
        .api
        .post(
            "/api/tokens",
            Some(&app.admin),
            &json!({"accountId": account["id"], "expiresIn": -1}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let (token, token_id) = (r.body["token"].as_str().unwrap().to_owned(), id_of(&r.body));
    let r = app.api.get("/flows", Some(&token)).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let me = app.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.body["username"], "robot@example.com");
    assert_eq!(
        introspect(app, &token).await.body["username"],
        "robot@example.com"
    );
    // A bounded one too.
    let r = app
        .api
        .post(
            "/api/tokens",
            Some(&app.admin),
            &json!({"accountId": account["id"], "expiresIn": 60}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(
        app.api
            .get("/flows", Some(r.body["token"].as_str().unwrap()))
            .await
            .status,
        200
    );

    let r = app
        .api
        .delete(&format!("/api/tokens/{token_id}"), Some(&app.admin))
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body),
        (200, &json!({"id": token_id, "revoked": true}))
    );
    app.api
        .get("/flows", Some(&token))
        .await
        .assert_error(401, "Token invalid.");
    introspect(app, &token).await.assert_error(404, "token not found");

    // Refusals: no permission, unknown account, bad expiry, malformed ids.
    let robot = app.api.login("robot@example.com", "robot-password").await;
    app.api
        .post(
            "/api/tokens",
            Some(&robot),
            &json!({"accountId": account["id"], "expiresIn": 60}),
        )
        .await
        .assert_error(403, "MISSING_PERMISSION");
    app.api
        .delete(&format!("/api/tokens/{token_id}"), Some(&robot))
        .await
        .assert_error(403, "MISSING_PERMISSION");
    app.api
        .post(
            "/api/tokens",
            Some(&app.admin),
            &json!({"accountId": "01a2247a-0000-7000-8000-000000000000"}),
        )
        .await
        .assert_error(404, "USER_NOT_FOUND");
    app.api
        .post(
            "/api/tokens",
            Some(&app.admin),
            &json!({"accountId": account["id"], "expiresIn": 0}),
        )
        .await
        .assert_errors(
            400,
            &[
                json!({"message": "INPUT_INVALID", "code": 400, "field": "/expiresIn",
                     "detail": "expiresIn must be a positive number of seconds or -1 (no expiry)"}),
            ],
        );
    app.api
        .post("/api/tokens", Some(&app.admin), &json!({"accountId": "robot"}))
        .await
        .assert_error(400, "accountId is required and must be a well-formed id");
    app.api
        .delete("/api/tokens/nope", Some(&app.admin))
        .await
        .assert_error(400, "Invalid id");
}

crate::both_modes!(
    introspection_answers_the_account_of_a_valid_token_only,
    a_service_account_token_works_until_it_is_deleted,
);
