//! The gateway on its own: its router driven with `oneshot` requests against fake service clients (`fakes`). These
//! tests pin what the gateway itself decides — paths and aliases, permission checks before parameters, id and
//! body validation, envelopes, CORS, local revocation — and which service calls it makes for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;
mod openapi;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use flowmate_gateway::{router, RouterOptions};
use serde_json::{json, Value};
use tower::ServiceExt;

use fakes::{state, token, Fake, FLOW, OTHER_TENANT, ROLE, TENANT, USER};

/// A router over fakes with CORS for `origins`, the fake, and an admin token.
fn app(origins: &[&str]) -> (Router, std::sync::Arc<Fake>, flowmate_auth::Signer) {
    let (state, fake, signer) = state();
    let options = RouterOptions {
        body_limit: 64 * 1024,
        console: Default::default(),
        cors_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
    };
    (router(state, &options), fake, signer)
}

/// Sends one request; returns status, headers and the JSON body (`Null` when empty).
async fn send(
    router: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = match body {
        Some(b) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (parts.status, parts.headers, json)
}

#[tokio::test]
async fn identity_routes_answer_under_api_and_api_v1_with_trailing_slashes() {
    let (router, fake, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    for path in ["/api/tenants", "/api/v1/tenants", "/api/v1/tenants/"] {
        let (status, _, body) = send(&router, Method::GET, path, Some(&admin), None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body[0]["_id"], TENANT, "{path}");
    }
    let path = format!("/api/v1/tenants/{OTHER_TENANT}");
    let (status, _, body) = send(
        &router,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"name": "x"})),
        &[],
    )
    .await;
    assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(OTHER_TENANT)));
    let (status, _, _) = send(
        &router,
        Method::GET,
        &format!("/api/v1/roles/{ROLE}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(
        &router,
        Method::GET,
        "/api/v1/permissions",
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_array().unwrap().contains(&json!("iam.token.introspect")));
    assert_eq!(
        fake.calls(),
        [
            "list_tenants",
            "list_tenants",
            "list_tenants",
            &format!("update_tenant {OTHER_TENANT} Some(\"x\")"),
            &format!("get_role {ROLE}"),
        ]
    );
}

#[tokio::test]
async fn users_lists_give_role_ids_and_single_users_objects() {
    let (router, _, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let (_, _, list) = send(&router, Method::GET, "/api/users", Some(&admin), None, &[]).await;
    assert_eq!(list[0]["roles"], json!([ROLE]));
    assert_eq!(list[0]["_id"], USER);
    let (_, _, one) = send(
        &router,
        Method::GET,
        &format!("/api/users/{USER}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (&one["roles"][0]["name"], &one["roles"][0]["_id"]),
        (&json!("USER"), &json!(ROLE))
    );
    let (status, _, _) = send(
        &router,
        Method::POST,
        "/api/users",
        Some(&admin),
        Some(json!({"username": "a@b.c"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "OIH's status");
}

#[tokio::test]
async fn put_users_is_patch_and_roles_may_be_objects() {
    let (router, fake, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let body = json!({"roles": [{"_id": ROLE, "name": "USER"}, {"id": "r2"}, "r3"]});
    let (status, _, _) = send(
        &router,
        Method::PUT,
        &format!("/api/users/{USER}"),
        Some(&admin),
        Some(body),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fake.calls(),
        [format!("update_user {USER} Some([\"{ROLE}\", \"r2\", \"r3\"])")]
    );
}

#[tokio::test]
async fn the_permission_check_comes_before_parameters_and_no_service_is_called() {
    let (router, fake, signer) = app(&[]);
    let (nobody, _) = token(&signer, &[]);
    for path in [
        "/flows?page[size]=0",
        "/templates?sort=x",
        "/executions?page[number]=0",
        "/api/users?meta=maybe",
    ] {
        let (status, _, body) = send(&router, Method::GET, path, Some(&nobody), None, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            body,
            json!({"errors": [{"message": "MISSING_PERMISSION", "code": 403}]})
        );
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test]
async fn bad_parameters_are_400_before_any_service_call() {
    let (router, fake, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let cases = [
        (
            "/flows?page[number]=2147483648",
            "Invalid page[number] parameter: must be 1..2147483647",
        ),
        (
            "/flows?page[number]=4294967296",
            "Invalid page[number] parameter: must be 1..2147483647",
        ),
        ("/api/users?meta=", "Invalid meta parameter: use true or false"),
        ("/flows/SDSADGSDGH", "Invalid id"),
        ("/api/tenants/SDSADGSDGH", "Invalid id"),
    ];
    for (path, message) in cases {
        let (status, _, body) = send(&router, Method::GET, path, Some(&admin), None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["errors"][0]["message"], message, "{path}");
    }
    let (status, _, _) = send(
        &router,
        Method::POST,
        "/flows",
        Some(&admin),
        Some(json!([null, null])),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test]
async fn malformed_entries_of_multiple_start_are_answered_without_the_service() {
    let (router, fake, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let body = json!([null, FLOW, "SDSADGSDGH"]);
    let (status, _, out) = send(
        &router,
        Method::POST,
        "/flows/multiple/start",
        Some(&admin),
        Some(body),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        out,
        json!([
            {"errors": [{"message": "Invalid id", "code": 400, "flowId": ""}]},
            {"data": {"id": FLOW, "status": "starting"}, "meta": {}},
            {"errors": [{"message": "Invalid id", "code": 400, "flowId": "SDSADGSDGH"}]},
        ])
    );
    assert_eq!(
        fake.calls(),
        [format!("flows.start [\"{FLOW}\"]")],
        "only the well-formed id"
    );
}

#[tokio::test]
async fn removing_a_user_of_another_tenant_is_404_and_deletes_nothing() {
    let (router, fake, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    *fake.user_tenant.lock().unwrap() = Some(OTHER_TENANT.into());
    let path = format!("/api/tenants/{TENANT}/user/{USER}");
    let (status, _, body) = send(&router, Method::DELETE, &path, Some(&admin), None, &[]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"errors": [{"message": "USER_NOT_FOUND", "code": 404}]})
        )
    );
    assert_eq!(fake.calls(), [format!("get_user {USER}")]);
}

#[tokio::test]
async fn logout_and_token_deletion_revoke_here_at_once() {
    let (router, _, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let (status, _, body) = send(&router, Method::POST, "/logout", Some(&admin), None, &[]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"loggedOut": true})));
    let (status, _, _) = send(&router, Method::GET, "/api/users/me", Some(&admin), None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (admin, _) = token(&signer, &["all"]);
    let (service, claims) = token(&signer, &["flows.read"]);
    let path = format!("/api/tokens/{}", claims.jti);
    let (status, _, body) = send(&router, Method::DELETE, &path, Some(&admin), None, &[]).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"id": claims.jti, "revoked": true}))
    );
    let (status, _, _) = send(&router, Method::GET, "/flows", Some(&service), None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn components_carry_ids_and_a_meta() {
    let (router, _, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let (_, _, body) = send(&router, Method::GET, "/components", Some(&admin), None, &[]).await;
    assert_eq!(body["data"][0]["id"], "webhook");
    assert_eq!(
        body["meta"],
        json!({"total": 2, "page": 1, "perPage": 2, "totalPages": 1})
    );
}

#[tokio::test]
async fn cors_preflights_are_204_for_allowed_origins_only() {
    let (router, fake, _) = app(&["https://ui.example.com"]);
    let preflight = [
        ("origin", "https://ui.example.com"),
        ("access-control-request-method", "PATCH"),
        (
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        ),
    ];
    let (status, headers, _) = send(
        &router,
        Method::OPTIONS,
        "/api/v1/users/me",
        None,
        None,
        &preflight,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], "https://ui.example.com");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PATCH"));
    let (_, headers, _) = send(
        &router,
        Method::OPTIONS,
        "/login",
        None,
        None,
        &[
            ("origin", "https://evil.test"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert!(!headers.contains_key("access-control-allow-origin"));
    assert!(fake.calls().is_empty());

    let (router, _, _) = app(&[]);
    let (status, headers, _) = send(&router, Method::OPTIONS, "/login", None, None, &preflight).await;
    assert_ne!(status, StatusCode::NO_CONTENT);
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "no origins configured: no CORS"
    );
}
