//! API.md §1 conventions: body limit, content types, JSON errors, request ids, unknown routes.

use serde_json::json;

use crate::harness::{App, BODY_LIMIT};

async fn a_body_over_the_limit_is_413(app: &App) {
    let big = json!({"username": "x".repeat(BODY_LIMIT + 1)});
    let r = app.api.post("/api/users", Some(&app.admin), &big).await;
    r.assert_error(413, "Request body is too large");
}

async fn a_body_that_is_not_json_is_415(app: &App) {
    let request = app
        .api
        .request(reqwest::Method::POST, "/api/users", Some(&app.admin))
        .header("content-type", "text/plain")
        .body("{}");
    let r = app.api.send(request).await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Content-Type must be application/json", "code": 415}]})
    );
    // A missing content type is 415 too.
    app.api
        .send(app.api.request(reqwest::Method::POST, "/login", None).body("{}"))
        .await
        .assert_error(415, "Content-Type must be application/json");
}

async fn malformed_json_is_400_with_the_position(app: &App) {
    let request = app
        .api
        .request(reqwest::Method::POST, "/login", None)
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"username\": ");
    let r = app.api.send(request).await;
    assert_eq!(r.status, 400);
    let message = r.error();
    assert!(
        message.starts_with("Invalid JSON") && message.contains("line 1 column"),
        "{message}"
    );
    r.assert_error(400, message);
}

async fn every_response_carries_a_request_id(app: &App) {
    let r = app
        .api
        .send(
            app.api
                .request(reqwest::Method::GET, "/api/users/me", Some(&app.admin))
                .header("x-request-id", "req-42"),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    let r = app.api.get("/api/users", None).await;
    r.assert_error(401, "Missing authorization header.");
    assert!(
        !r.header("x-request-id").unwrap_or("").is_empty(),
        "errors carry a generated id"
    );
}

async fn unknown_routes_and_methods_use_the_error_shape(app: &App) {
    let r = app.api.get("/api/nothing-here", Some(&app.admin)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"errors": [{"message": "Not found", "code": 404}]}));
    let r = app.api.delete("/login", None).await;
    r.assert_error(405, "Method not allowed");
}

crate::both_modes!(
    a_body_over_the_limit_is_413,
    a_body_that_is_not_json_is_415,
    malformed_json_is_400_with_the_position,
    every_response_carries_a_request_id,
    unknown_routes_and_methods_use_the_error_shape,
);
