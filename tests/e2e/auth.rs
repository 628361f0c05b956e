//! Login, logout and tokens (API.md §1 auth, §2 `POST /login`, `POST /logout`).

use flowmate_auth::Claims;
use serde_json::json;

use crate::harness::{App, ADMIN, ADMIN_PASSWORD, MAX_FAILURES};

async fn login_returns_an_eddsa_token_with_its_id_and_expiry(app: &App) {
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    assert!(!r.body["id"].as_str().unwrap().is_empty());
    let expires = chrono::DateTime::parse_from_rfc3339(r.body["expiresAt"].as_str().unwrap()).unwrap();
    let hours = (expires.timestamp() - chrono::Utc::now().timestamp()) as f64 / 3600.0;
    assert!(
        (2.9..=3.01).contains(&hours),
        "default lifetime is 3 h, got {hours} h"
    );
    let me = app.api.get("/api/users/me", Some(token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["username"], ADMIN);
}

async fn usernames_are_matched_case_insensitively_at_login(app: &App) {
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": "ADMIN@Example.COM", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn a_wrong_password_is_401_password_incorrect(app: &App) {
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": ADMIN, "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "PASSWORD_INCORRECT", "code": 401}]})
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

async fn an_unknown_user_is_401_user_not_found(app: &App) {
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": "nobody@example.com", "password": "whatever1"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "USER_NOT_FOUND", "code": 401}]})
    );
}

async fn login_without_fields_is_400_input_invalid_for_each(app: &App) {
    let r = app.api.post("/login", None, &json!({})).await;
    assert_eq!(r.status, 400);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{:?}", r.body);
    assert_eq!(errors[0]["message"], "INPUT_INVALID");
    assert_eq!(errors[0]["field"], "/username");
    assert_eq!(errors[1]["field"], "/password");
    assert_eq!(errors[1]["code"], 400);
}

async fn an_account_is_locked_after_repeated_failures(app: &App) {
    app.create_user(
        json!({"username": "lock@example.com", "password": "correct-horse", "firstname": "L",
                           "lastname": "K"}),
    )
    .await;
    for _ in 0..MAX_FAILURES {
        let r = app
            .api
            .post(
                "/login",
                None,
                &json!({"username": "lock@example.com", "password": "bad-guess"}),
            )
            .await;
        r.assert_error(401, "PASSWORD_INCORRECT");
    }
    let r = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": "lock@example.com", "password": "correct-horse"}),
        )
        .await;
    r.assert_error(429, "TOO_MANY_LOGIN_ATTEMPTS");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 60);
    // Other accounts are not affected.
    assert_eq!(
        app.api
            .post(
                "/login",
                None,
                &json!({"username": ADMIN, "password": ADMIN_PASSWORD})
            )
            .await
            .status,
        200
    );
}

async fn a_missing_token_is_401_missing_authorization_header(app: &App) {
    let r = app.api.get("/api/users", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Missing authorization header.", "code": 401}]})
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

async fn malformed_and_forged_tokens_are_401_token_invalid(app: &App) {
    let r = app
        .api
        .send(
            app.api
                .request(reqwest::Method::GET, "/api/users/me", None)
                .header("authorization", "Basic abc"),
        )
        .await;
    r.assert_error(401, "Token invalid.");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    app.api
        .get("/api/users/me", Some("not-a-jwt"))
        .await
        .assert_error(401, "Token invalid.");
    let (forger, _) = flowmate_auth::Signer::generate("attacker").unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: "x".into(),
        tenant: "t".into(),
        username: "evil@example.com".into(),
        permissions: vec!["all".into()],
        roles: vec![],
        jti: "j".into(),
        iat: now,
        iat_ms: None,
        exp: now + 600,
    };
    let r = app
        .api
        .get("/api/users", Some(&forger.sign(&claims).unwrap()))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Token invalid.", "code": 401}]})
    );
}

async fn an_expired_token_is_401_token_invalid(app: &App) {
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: me["id"].as_str().unwrap().into(),
        tenant: me["tenant"].as_str().unwrap().into(),
        username: ADMIN.into(),
        permissions: vec!["all".into()],
        roles: vec![],
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now - 7200,
        iat_ms: None,
        exp: now - 60,
    };
    let expired = app.sign(&claims).await;
    app.api
        .get("/api/users/me", Some(&expired))
        .await
        .assert_error(401, "Token invalid.");
    // The same key with a valid expiry is accepted: only the expiry made the difference.
    let fresh = app
        .sign(&Claims {
            exp: now + 600,
            iat: now,
            iat_ms: None,
            ..claims
        })
        .await;
    assert_eq!(app.api.get("/api/users/me", Some(&fresh)).await.status, 200);
}

async fn logout_revokes_the_presented_token_at_once(app: &App) {
    let token = app.api.login(ADMIN, ADMIN_PASSWORD).await;
    let r = app.api.post("/logout", Some(&token), &json!({})).await;
    assert_eq!(r.status, 200, "OIH's answer");
    assert_eq!(r.body, json!({"loggedOut": true}));
    app.api
        .get("/api/users/me", Some(&token))
        .await
        .assert_error(401, "Token invalid.");
    // Other tokens of the same user still work.
    assert_eq!(app.api.get("/api/users/me", Some(&app.admin)).await.status, 200);
}

crate::both_modes!(
    login_returns_an_eddsa_token_with_its_id_and_expiry,
    usernames_are_matched_case_insensitively_at_login,
    a_wrong_password_is_401_password_incorrect,
    an_unknown_user_is_401_user_not_found,
    login_without_fields_is_400_input_invalid_for_each,
    an_account_is_locked_after_repeated_failures,
    a_missing_token_is_401_missing_authorization_header,
    malformed_and_forged_tokens_are_401_token_invalid,
    an_expired_token_is_401_token_invalid,
    logout_revokes_the_presented_token_at_once,
);
