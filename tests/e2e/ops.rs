//! Health, readiness, metrics and the API documents (API.md §7).

use crate::harness::App;

async fn health_readiness_and_metrics_answer(app: &App) {
    let r = app.api.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    let r = app.api.get("/readyz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ready");
    app.api.get("/api/users/me", Some(&app.admin)).await;
    let r = app.api.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .as_str()
            .unwrap_or("")
            .contains("flowmate_http_requests_total"),
        "{:?}",
        r.body
    );
}

async fn the_openapi_document_and_the_docs_are_served(app: &App) {
    let r = app.api.get("/api/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/login",
        "/logout",
        "/api/users",
        "/api/users/{id}",
        "/api/users/me",
        "/api/tenants",
        "/api/roles",
    ] {
        assert!(r.body["paths"][path].is_object(), "{path} is documented");
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
    let ids: Vec<&str> = r.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| {
            ops.as_object()
                .unwrap()
                .values()
                .filter_map(|op| op["operationId"].as_str())
        })
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique: {ids:?}");
    assert!(
        r.body["paths"]["/flows"]["post"]["requestBody"].is_object(),
        "flow bodies are described"
    );
    let root = app.api.get("/", None).await;
    assert_eq!(root.status, 200);
    assert_eq!(root.body["docs"], "/api/docs");
    let r = app.api.get("/api/docs", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.as_str().unwrap_or("").contains("<html"),
        "interactive docs page"
    );
}

crate::both_modes!(
    health_readiness_and_metrics_answer,
    the_openapi_document_and_the_docs_are_served
);
