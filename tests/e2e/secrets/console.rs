//! `/console/secrets`: names and types of the tenant's secrets and its OAuth2 apps, never a value, and nothing of
//! another tenant's.

use serde_json::json;

use super::support::{member, Client};
use crate::{
    console::support::Browser,
    harness::{App, ADMIN, ADMIN_PASSWORD},
};

async fn the_console_lists_secrets_by_name_and_type_and_never_a_value(app: &App) {
    let c = Client::new(app, &app.admin);
    let id = c
        .secret(
            "Shop <key>",
            "API_KEY",
            json!({"key": "console-key-1", "headerName": "x-api-key"}),
        )
        .await;
    c.secret(
        "ERP login",
        "SIMPLE",
        json!({"username": "console-user-1", "passphrase": "console-pass-1"}),
    )
    .await;
    let r = c
        .post(
            "/auth-clients",
            &json!({"data": {"name": "Drive app", "clientId": "drive-client", "clientSecret": "console-app-1",
            "endpoints": {"auth": "https://idp.example.com/a", "token": "https://idp.example.com/t"},
            "redirectUri": "https://flowmate.example.com/callback"}}),
        )
        .await;
    assert_eq!(r.status, 201);
    let other = member(
        app,
        "console-other@example.com",
        &["secrets.read", "secrets.write"],
    )
    .await;
    c.as_user(&other)
        .secret("Their secret", "API_KEY", json!({"key": "console-theirs-1"}))
        .await;

    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let page = b.get("/console/secrets").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Shop &#60;key&#62;"),
        "names are escaped: {}",
        page.body
    );
    assert!(page.body.contains(&format!("data-secret-id=\"{id}\"")));
    assert!(page.body.contains("API_KEY") && page.body.contains("SIMPLE"));
    assert!(page.body.contains("Drive app") && page.body.contains("drive-client"));
    assert!(page
        .body
        .contains("href=\"/console/secrets\" aria-current=\"page\""));
    for value in [
        "console-key-1",
        "console-user-1",
        "console-pass-1",
        "console-app-1",
        "console-theirs-1",
    ] {
        assert!(!page.body.contains(value), "{value} on the page");
    }
    let found = b.get("/console/secrets?search=erp").await;
    assert!(found.body.contains("ERP login") && !found.body.contains("Shop &#60;key&#62;"));

    let theirs = Browser::signed_in(app, "console-other@example.com", "member-password").await;
    let page = theirs.get("/console/secrets").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Their secret") && !page.body.contains("ERP login"),
        "{}",
        page.body
    );
}

crate::secret_scenarios!(the_console_lists_secrets_by_name_and_type_and_never_a_value);
