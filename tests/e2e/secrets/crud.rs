//! `/secrets` and `/auth-clients`: create, list, read, change and delete, values masked in every response, and
//! every bad input with its status and body.

use serde_json::{json, Value};

use super::support::{member, Client};
use crate::harness::App;

fn errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["code"], 400);
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn secrets_are_created_listed_changed_and_deleted_with_values_masked(app: &App) {
    let c = Client::new(app, &app.admin);
    let cases = [
        (
            "SIMPLE",
            json!({"username": "u-crud", "passphrase": "pw-crud-1"}),
            json!({"username": "***", "passphrase": "***"}),
        ),
        (
            "API_KEY",
            json!({"key": "key-crud-1", "headerName": "x-api-key"}),
            json!({"key": "***", "headerName": "x-api-key"}),
        ),
        (
            "MIXED",
            json!({"payload": {"headers": {"x-a": "mixed-crud-1"}}}),
            json!({"payload": "***"}),
        ),
        (
            "OA2_CLIENT_CREDENTIALS",
            json!({"clientId": "cid", "clientSecret": "cs-crud-1", "tokenUrl": "https://idp.example.com/t", "scope": "s"}),
            json!({"clientId": "cid", "clientSecret": "***", "tokenUrl": "https://idp.example.com/t", "scope": "s"}),
        ),
    ];
    let mut ids = Vec::new();
    for (kind, value, shown) in &cases {
        let r = c
            .post(
                "/secrets",
                &json!({"data": {"name": format!("crud {kind}"), "type": kind, "value": value}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let s = &r.body["data"];
        assert_eq!(s["value"], *shown, "{kind}");
        assert_eq!(s["type"], *kind);
        assert_eq!(s["name"], format!("crud {kind}"));
        assert_eq!(s["_id"], s["id"]);
        assert_eq!(r.body["meta"], json!({}));
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let r = c.get("/secrets?page[size]=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["meta"],
        json!({"total": 4, "page": 1, "perPage": 2, "totalPages": 2})
    );
    let r = c.get("/secrets?filter[type]=API_KEY").await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(
        r.body["data"][0]["value"],
        json!({"key": "***", "headerName": "x-api-key"})
    );
    let r = c.get("/secrets?search=SIMPLE").await;
    assert_eq!(r.body["data"][0]["id"], ids[0].as_str());

    // "***" keeps the value; changing the name bumps nothing visible but the name.
    let r = c
        .patch(
            &format!("/secrets/{}", ids[1]),
            &json!({"data": {"name": "renamed", "value": {"key": "***", "headerName": "x-other"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"]["value"],
        json!({"key": "***", "headerName": "x-other"})
    );
    let r = c.get(&format!("/secrets/{}", ids[1])).await;
    assert_eq!(r.body["data"]["name"], "renamed");

    let r = c.delete(&format!("/secrets/{}", ids[0])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c.get(&format!("/secrets/{}", ids[0])).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "No secret found", "code": 404}]})
    );

    let seen = c.seen.text();
    for value in ["pw-crud-1", "key-crud-1", "mixed-crud-1", "cs-crud-1", "u-crud"] {
        assert!(!seen.contains(value), "{value} appeared in a response");
    }
}

async fn bad_secrets_are_refused_with_every_problem(app: &App) {
    let c = Client::new(app, &app.admin);
    let r = c
        .post(
            "/secrets",
            &json!({"data": {"name": "x", "type": "PASSWORD", "value": {}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(errors(&r.body), vec![(
        "/data/type".to_owned(),
        "Unknown secret type \"PASSWORD\"; one of SIMPLE, API_KEY, MIXED, OA2_CLIENT_CREDENTIALS, OA2_AUTHORIZATION_CODE.".to_owned(),
    )]);

    let r = c
        .post(
            "/secrets",
            &json!({"data": {"type": "SIMPLE", "value": {"username": 7}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        errors(&r.body),
        vec![
            ("/data/name".to_owned(), "Secrets require a name.".to_owned()),
            (
                "/data/value/username".to_owned(),
                "username must be a string.".to_owned()
            ),
            (
                "/data/value/passphrase".to_owned(),
                "SIMPLE secrets require passphrase.".to_owned()
            ),
        ]
    );

    let r = c
        .post(
            "/secrets",
            &json!({"data": {"name": "k", "type": "API_KEY", "value": {"key": "***"}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(errors(&r.body)[0].0, "/data/value/key");

    let big = "x".repeat(64 * 1024);
    let r = c
        .post(
            "/secrets",
            &json!({"data": {"name": "big", "type": "API_KEY", "value": {"key": big}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        errors(&r.body),
        vec![(
            "/data/value".to_owned(),
            "value is 65546 bytes of JSON; at most 65536 are accepted.".to_owned(),
        )]
    );

    let r = c.post("/secrets", &json!(["not", "an", "object"])).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "The body must be a JSON object: {\"data\": {…}}.");

    let r = c.get("/secrets/bad$id").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "Invalid id", "code": 400}]})
    );

    let r = c.get("/secrets?filter[type]=NOPE").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "Invalid filter[type] parameter");
}

async fn another_tenants_secrets_and_auth_clients_are_not_found(app: &App) {
    let admin = Client::new(app, &app.admin);
    let other = member(app, "other@example.com", &["secrets.read", "secrets.write"]).await;
    let theirs = admin.as_user(&other);
    let id = theirs
        .secret("theirs", "API_KEY", json!({"key": "their-key-1"}))
        .await;
    let client = theirs
        .post(
            "/auth-clients",
            &json!({"data": {"name": "their app", "type": "OA2_AUTHORIZATION_CODE",
            "clientId": "c", "clientSecret": "their-app-secret",
            "endpoints": {"auth": "https://idp.example.com/a", "token": "https://idp.example.com/t"},
            "redirectUri": "https://flowmate.example.com/callback"}}),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    assert_eq!(client.body["data"]["clientSecret"], "***");
    let client_id = client.body["data"]["id"].as_str().unwrap().to_owned();

    let mine = member(app, "mine@example.com", &["secrets.read", "secrets.write"]).await;
    let me = admin.as_user(&mine);
    let not_found = json!({"errors": [{"message": "No secret found", "code": 404}]});
    for r in [
        me.get(&format!("/secrets/{id}")).await,
        me.patch(&format!("/secrets/{id}"), &json!({"data": {"name": "mine now"}}))
            .await,
        me.delete(&format!("/secrets/{id}")).await,
    ] {
        assert_eq!(r.status, 404);
        assert_eq!(r.body, not_found);
    }
    let r = me.get(&format!("/auth-clients/{client_id}")).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "No auth client found", "code": 404}]})
    );
    assert_eq!(me.get("/secrets").await.body["meta"]["total"], 0);
    assert_eq!(me.get("/auth-clients").await.body["meta"]["total"], 0);

    // An authClientId of another tenant is no auth client at all.
    let r = me
        .post(
            "/secrets",
            &json!({"data": {"name": "ac", "type": "OA2_AUTHORIZATION_CODE",
            "value": {"authClientId": client_id, "accessToken": "at", "refreshToken": "rt"}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        errors(&r.body),
        vec![(
            "/data/value/authClientId".to_owned(),
            "No auth client found with this id in the tenant.".to_owned(),
        )]
    );

    let reader = member(app, "reader@example.com", &["flows.read"]).await;
    let r = admin.as_user(&reader).get("/secrets").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"errors": [{"message": "MISSING_PERMISSION", "code": 403}]})
    );
    let r = app.api.get("/secrets", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "Missing authorization header.");
    assert!(!admin.seen.text().contains("their-key-1") && !admin.seen.text().contains("their-app-secret"));
}

async fn auth_clients_are_validated_masked_and_kept_while_secrets_use_them(app: &App) {
    let c = Client::new(app, &app.admin);
    let r = c
        .post(
            "/auth-clients",
            &json!({"data": {"name": "", "type": "OA2_PASSWORD", "endpoints": {"auth": "nope"}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    let fields: Vec<String> = errors(&r.body).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "/data/name",
            "/data/type",
            "/data/clientId",
            "/data/clientSecret",
            "/data/endpoints/auth",
            "/data/endpoints/token",
            "/data/redirectUri",
        ]
    );
    let r = c
        .post(
            "/auth-clients",
            &json!({"data": {"name": "app", "type": "OA2_AUTHORIZATION_CODE", "clientId": "c1",
            "clientSecret": "app-secret-crud", "endpoints": {"auth": "https://idp.example.com/a",
            "token": "https://idp.example.com/t"}, "redirectUri": "https://flowmate.example.com/callback",
            "predefinedScope": "read"}}),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let r = c
        .patch(
            &format!("/auth-clients/{id}"),
            &json!({"data": {"clientSecret": "***", "predefinedScope": "write"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["predefinedScope"], "write");
    assert_eq!(r.body["data"]["clientSecret"], "***");
    let secret = c
        .secret(
            "ac",
            "OA2_AUTHORIZATION_CODE",
            json!({"authClientId": id, "accessToken": "at-crud", "refreshToken": "rt-crud"}),
        )
        .await;
    let r = c.delete(&format!("/auth-clients/{id}")).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body["errors"][0]["message"],
        format!("Auth client is used by secrets: {secret}. Delete them first, or delete with ?force=true.")
    );
    let r = c.delete(&format!("/auth-clients/{id}?force=true")).await;
    assert_eq!(r.status, 204);
    assert!(!c.seen.text().contains("app-secret-crud") && !c.seen.text().contains("at-crud"));
}

crate::secret_scenarios!(
    secrets_are_created_listed_changed_and_deleted_with_values_masked,
    bad_secrets_are_refused_with_every_problem,
    another_tenants_secrets_and_auth_clients_are_not_found,
    auth_clients_are_validated_masked_and_kept_while_secrets_use_them,
);
