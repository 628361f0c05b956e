//! OAuth2 tokens: refreshed once however many callers and replicas need it, before use; token endpoints that fail,
//! answer garbage or hang fail every waiting caller with a clear error, and are asked once.

use flowmate_secret::{
    core::{sha256_hex, SecretCore},
    error::SecretError,
};
use flowmate_testkit::oauth::{Mode, OAuthProvider};
use serde_json::{json, Value};

use crate::{alice, Setup, KEY};

const PAST: &str = "2020-01-01T00:00:00Z";
const FUTURE: &str = "2100-01-01T00:00:00Z";

async fn client_credentials(
    core: &SecretCore,
    provider: &OAuthProvider,
    token: &str,
    expires: &str,
) -> String {
    let body = json!({"data": {"name": "cc", "type": "OA2_CLIENT_CREDENTIALS", "value": {
        "clientId": "client-1", "clientSecret": "cs-very-secret", "tokenUrl": provider.token_url(),
        "scope": "read", "accessToken": token, "expires": expires}}});
    core.create(&alice(), body).await.unwrap().id
}

fn access_token(v: &flowmate_secret::core::Resolved) -> String {
    v.value.0["accessToken"].as_str().unwrap().to_owned()
}

async fn twenty_concurrent_callers_on_two_replicas_refresh_an_expired_token_once(s: &Setup) {
    let provider = OAuthProvider::start().await;
    let replicas = [s.core(KEY).await, s.core(KEY).await];
    let id = client_credentials(&replicas[0], &provider, "expired-token", PAST).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (core, id) = (replicas[i % 2].clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            core.resolve(&id, "tenant-a", false, "").await
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(access_token(&t.await.unwrap().unwrap()));
    }
    assert_eq!(
        provider.calls(),
        1,
        "one refresh for twenty callers on two replicas"
    );
    let issued = provider.issued().unwrap();
    assert!(
        tokens.iter().all(|t| *t == issued),
        "every caller got the new token"
    );
    let grant = &provider.grants()[0];
    assert_eq!(grant["grant_type"], "client_credentials");
    assert_eq!(grant["client_secret"], "cs-very-secret");
    assert_eq!(grant["scope"], "read");
    // Stored before use: a later caller gets it without another refresh.
    let again = replicas[1].resolve(&id, "tenant-a", false, "").await.unwrap();
    assert_eq!(access_token(&again), issued);
    assert_eq!(again.version, 2);
    assert!(again.expires_at_ms > 0);
    assert_eq!(provider.calls(), 1);
}

async fn a_refused_token_is_refreshed_once_however_many_callers_report_it(s: &Setup) {
    let provider = OAuthProvider::start().await;
    let replicas = [s.core(KEY).await, s.core(KEY).await];
    let id = client_credentials(&replicas[0], &provider, "revoked-token", FUTURE).await;
    let first = replicas[0].resolve(&id, "tenant-a", false, "").await.unwrap();
    assert_eq!(
        access_token(&first),
        "revoked-token",
        "a token that has not expired is used as it is"
    );
    let refused = sha256_hex("revoked-token");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (core, id, refused) = (replicas[i % 2].clone(), id.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            core.resolve(&id, "tenant-a", true, &refused).await
        }));
    }
    for t in tasks {
        assert_eq!(
            access_token(&t.await.unwrap().unwrap()),
            provider.issued().unwrap()
        );
    }
    assert_eq!(provider.calls(), 1);
    // A late report of the old token gets the new one without a refresh.
    let late = replicas[1]
        .resolve(&id, "tenant-a", true, &refused)
        .await
        .unwrap();
    assert_eq!(access_token(&late), provider.issued().unwrap());
    assert_eq!(provider.calls(), 1);
}

async fn failing_token_endpoints_fail_every_waiting_caller_once_with_a_clear_error(s: &Setup) {
    let provider = OAuthProvider::start().await;
    let replicas = [s.core(KEY).await, s.core(KEY).await];
    let cases = [
        (
            Mode::Error500,
            "credential refresh failed: the token endpoint answered 500 (server_error)",
        ),
        (
            Mode::Garbage,
            "credential refresh failed: the token endpoint's answer is not an OAuth2 token response",
        ),
        (
            Mode::Hang,
            "credential refresh failed: the token endpoint did not answer within 0.5 s",
        ),
    ];
    for (mode, expected) in cases {
        provider.set_mode(mode);
        let id = client_credentials(&replicas[0], &provider, "expired", PAST).await;
        let before = provider.calls();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (core, id) = (replicas[i % 2].clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                core.resolve(&id, "tenant-a", false, "").await
            }));
        }
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert!(matches!(e, SecretError::RefreshFailed(_)), "{mode:?}: {e:?}");
            assert_eq!(e.to_string(), expected, "{mode:?}");
            assert!(!e.to_string().contains("cs-very-secret"));
        }
        assert_eq!(
            provider.calls() - before,
            1,
            "{mode:?}: the endpoint is asked once, never in a loop"
        );
        let shown = replicas[0].get(&alice(), &id).await.unwrap().to_json();
        assert_eq!(
            shown["currentError"]["message"],
            expected.trim_start_matches("credential refresh failed: "),
            "{mode:?}"
        );
    }
}

async fn an_authorization_code_secret_refreshes_with_its_auth_client_and_keeps_the_new_refresh_token(
    s: &Setup,
) {
    let provider = OAuthProvider::start().await;
    let core = s.core(KEY).await;
    let client = core
        .create_client(
            &alice(),
            json!({"data": {"name": "app", "clientId": "app-1", "clientSecret": "app-secret",
            "endpoints": {"auth": provider.auth_url(), "token": provider.token_url()},
            "redirectUri": "https://flowmate.example.com/callback", "predefinedScope": "files"}}),
        )
        .await
        .unwrap();
    assert_eq!(client.to_json()["clientSecret"], "***");
    let id = core
        .create(
            &alice(),
            json!({"data": {"name": "ac", "type": "OA2_AUTHORIZATION_CODE", "value": {
            "authClientId": client.id, "accessToken": "at-0", "refreshToken": "rt-0", "expires": PAST}}}),
        )
        .await
        .unwrap()
        .id;
    let v = core.resolve(&id, "tenant-a", false, "").await.unwrap();
    assert_eq!(access_token(&v), provider.issued().unwrap());
    let grant = &provider.grants()[0];
    assert_eq!(grant["grant_type"], "refresh_token");
    assert_eq!(grant["refresh_token"], "rt-0");
    assert_eq!(grant["client_id"], "app-1");
    assert_eq!(grant["client_secret"], "app-secret");
    // The rotated refresh token is the one used next.
    let store = s.store().await;
    let keys = flowmate_auth::secrets::SecretBox::from_keys(KEY).unwrap();
    let stored = flowmate_secret::model::SecretStore::get_secret(&store, &id)
        .await
        .unwrap()
        .unwrap();
    let value: Value = serde_json::from_str(&keys.open(&stored.sealed).unwrap()).unwrap();
    assert!(
        value["refreshToken"].as_str().unwrap().starts_with("rt-1-"),
        "{value}"
    );
    let other_tenant = core.resolve(&id, "tenant-b", false, "").await.unwrap_err();
    assert!(matches!(other_tenant, SecretError::SecretNotFound));
}

crate::both_databases!(
    twenty_concurrent_callers_on_two_replicas_refresh_an_expired_token_once,
    a_refused_token_is_refreshed_once_however_many_callers_report_it,
    failing_token_endpoints_fail_every_waiting_caller_once_with_a_clear_error,
    an_authorization_code_secret_refreshes_with_its_auth_client_and_keeps_the_new_refresh_token,
);
