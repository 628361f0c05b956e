//! The consent round trip: the state is random, single-use, bound to the user who started it and expiring.

use std::collections::HashMap;

use flowmate_secret::{
    core::sha256_hex,
    error::{SecretError, StateProblem},
    model::{ConsentState, SecretStore},
};
use flowmate_testkit::oauth::{Mode, OAuthProvider};
use serde_json::json;

use crate::{alice, bob, Setup, KEY};

fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn app(core: &flowmate_secret::core::SecretCore, provider: &OAuthProvider) -> String {
    core.create_client(
        &alice(),
        json!({"data": {"name": "drive", "type": "OA2_AUTHORIZATION_CODE",
        "clientId": "app-1", "clientSecret": "app-secret",
        "endpoints": {"auth": provider.auth_url(), "token": provider.token_url()},
        "redirectUri": "https://flowmate.example.com/callback", "predefinedScope": "files.read"}}),
    )
    .await
    .unwrap()
    .id
}

async fn a_consent_creates_the_secret_for_the_user_who_started_it_once(s: &Setup) {
    let provider = OAuthProvider::start().await;
    let core = s.core(KEY).await;
    let client = app(&core, &provider).await;
    let url = core
        .start_consent(&alice(), &client, "my drive", "")
        .await
        .unwrap();
    assert!(url.starts_with(&provider.auth_url()));
    let q = query_of(&url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "app-1");
    assert_eq!(q["redirect_uri"], "https://flowmate.example.com/callback");
    assert_eq!(q["scope"], "files.read");
    assert!(q["state"].len() >= 43, "256 random bits");

    let forged = core
        .complete_consent("forged-state", "code-1", "")
        .await
        .unwrap_err();
    assert!(matches!(forged, SecretError::State(StateProblem::Unknown)));
    assert_eq!(forged.to_string(), "OAuth state is not valid");

    let secret = core.complete_consent(&q["state"], "code-1", "").await.unwrap();
    let doc = secret.to_json();
    assert_eq!(doc["type"], "OA2_AUTHORIZATION_CODE");
    assert_eq!(doc["name"], "my drive");
    assert_eq!(doc["tenant"], "tenant-a");
    assert_eq!(doc["owners"][0]["id"], "alice");
    assert_eq!(doc["value"]["accessToken"], "***");
    assert_eq!(doc["value"]["refreshToken"], "***");
    assert_eq!(doc["value"]["authClientId"], client);
    let grant = &provider.grants()[0];
    assert_eq!(grant["grant_type"], "authorization_code");
    assert_eq!(grant["code"], "code-1");
    assert_eq!(grant["redirect_uri"], "https://flowmate.example.com/callback");
    assert!(!doc.to_string().contains(&provider.issued().unwrap()));

    let replayed = core
        .complete_consent(&q["state"], "code-1", "")
        .await
        .unwrap_err();
    assert!(matches!(replayed, SecretError::State(StateProblem::Used)));
    assert_eq!(provider.calls(), 1, "a replayed state reaches no token endpoint");
    // Another tenant cannot start a consent with this app.
    assert!(matches!(
        core.start_consent(&bob(), &client, "x", "").await,
        Err(SecretError::AuthClientNotFound)
    ));
}

async fn expired_refused_and_failed_consents_are_clear_errors(s: &Setup) {
    let provider = OAuthProvider::start().await;
    let core = s.core(KEY).await;
    let store = s.store().await;
    let client = app(&core, &provider).await;
    store
        .insert_state(
            &ConsentState {
                state_hash: sha256_hex("old-state"),
                auth_client_id: client.clone(),
                tenant: "tenant-a".into(),
                user_id: "alice".into(),
                secret_name: "late".into(),
                scope: String::new(),
                expires_at: "2020-01-01T00:10:00.000Z".into(),
                used_at: None,
                created_at: "2020-01-01T00:00:00.000Z".into(),
            },
            "2019-01-01T00:00:00.000Z",
        )
        .await
        .unwrap();
    let expired = core.complete_consent("old-state", "code", "").await.unwrap_err();
    assert_eq!(
        expired.to_string(),
        "OAuth state has expired; start the consent again"
    );

    let url = core
        .start_consent(&alice(), &client, "declined", "x.y")
        .await
        .unwrap();
    let q = query_of(&url);
    assert_eq!(q["scope"], "x.y");
    let refused = core
        .complete_consent(&q["state"], "", "access_denied")
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the provider refused the consent: access_denied"
    );

    provider.set_mode(Mode::Error500);
    let url = core
        .start_consent(&alice(), &client, "failing", "")
        .await
        .unwrap();
    let failed = core
        .complete_consent(&query_of(&url)["state"], "code", "")
        .await
        .unwrap_err();
    assert_eq!(
        failed.to_string(),
        "token exchange failed: the token endpoint answered 500 (server_error)"
    );
    assert_eq!(provider.calls(), 1);
}

crate::both_databases!(
    a_consent_creates_the_secret_for_the_user_who_started_it_once,
    expired_refused_and_failed_consents_are_clear_errors,
);
