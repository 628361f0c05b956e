//! OAuth2 through the public API against a simulated provider: the consent round trip and its hostile states, one
//! token refresh for twenty concurrent executions (and two execution replicas in distributed mode), one more after
//! the provider revokes the token, and token endpoints that fail, answer garbage or hang.

use std::collections::HashMap;

use flowmate_testkit::oauth::{Mode, OAuthProvider};
use serde_json::json;

use super::support::{http_flow, Client};
use crate::harness::App;

async fn auth_client(c: &Client<'_>, provider: &OAuthProvider) -> String {
    let r = c
        .post(
            "/auth-clients",
            &json!({"data": {"name": "idp", "type": "OA2_AUTHORIZATION_CODE",
            "clientId": "app-1", "clientSecret": "app-secret-oauth",
            "endpoints": {"auth": provider.auth_url(), "token": provider.token_url()},
            "redirectUri": "https://flowmate.example.com/callback", "predefinedScope": "files"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn state_of(c: &Client<'_>, client: &str, name: &str) -> String {
    let r = c
        .get_no_redirect(&format!("/auth-clients/{client}/start?secretName={name}"))
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(r.body["data"]["redirectUrl"], location);
    let q: HashMap<String, String> = reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], "app-1");
    assert_eq!(q["scope"], "files");
    assert_eq!(q["response_type"], "code");
    q["state"].clone()
}

async fn the_consent_round_trip_creates_a_secret_once_and_refuses_bad_states(app: &App) {
    let provider = OAuthProvider::start().await;
    let c = Client::new(app, &app.admin);
    let client = auth_client(&c, &provider).await;
    let r = c.get_no_redirect(&format!("/auth-clients/{client}/start")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"][0]["message"],
        "secretName is required (at most 200 characters)."
    );

    let forbidden = |message: &str| json!({"errors": [{"message": message, "code": 403}]});
    let r = c.anonymous_get("/callback?code=c&state=forged-state").await;
    assert_eq!(
        (r.status.as_u16(), r.body.clone()),
        (403, forbidden("OAuth state is not valid"))
    );
    let r = c.anonymous_get("/callback?code=c").await;
    assert_eq!(
        (r.status.as_u16(), r.body.clone()),
        (403, forbidden("OAuth state is not valid"))
    );

    let state = state_of(&c, &client, "drive").await;
    let r = c
        .anonymous_get(&format!("/callback?code=the-code&state={state}"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = &r.body["data"];
    assert_eq!(secret["type"], "OA2_AUTHORIZATION_CODE");
    assert_eq!(secret["name"], "drive");
    assert_eq!(secret["value"]["accessToken"], "***");
    assert_eq!(secret["value"]["authClientId"], client.as_str());
    let listed = c
        .get(&format!("/secrets/{}", secret["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        listed.status, 200,
        "the secret belongs to the user who started the consent"
    );

    let r = c
        .anonymous_get(&format!("/callback?code=the-code&state={state}"))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body.clone()),
        (403, forbidden("OAuth state was already used"))
    );
    assert_eq!(provider.calls(), 1, "a replay reaches no token endpoint");

    // A state past its ten minutes.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.secrets_db()).await.unwrap();
    let old = "expired-state-value";
    let hash = flowmate_secret::core::sha256_hex(old);
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, auth_client_id, tenant, user_id, secret_name, scope, expires_at, \
         created_at) VALUES ($1, $2, 't', 'u', 'late', '', '2020-01-01T00:10:00.000Z', '2020-01-01T00:00:00.000Z')",
    )
    .bind(&hash)
    .bind(&client)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let r = c.anonymous_get(&format!("/callback?code=c&state={old}")).await;
    assert_eq!(
        (r.status.as_u16(), r.body.clone()),
        (403, forbidden("OAuth state has expired; start the consent again"))
    );

    let state = state_of(&c, &client, "declined").await;
    let r = c
        .anonymous_get(&format!("/callback?error=access_denied&state={state}"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "the provider refused the consent: access_denied");

    provider.set_mode(Mode::Garbage);
    let state = state_of(&c, &client, "garbage").await;
    let r = c.anonymous_get(&format!("/callback?code=c2&state={state}")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "token exchange failed: the token endpoint's answer is not an OAuth2 token response"
    );
    assert!(!c.seen.text().contains("app-secret-oauth"));
    assert!(provider
        .every_token()
        .iter()
        .all(|t| !c.seen.text().contains(t.as_str())));
}

/// Runs `n` executions of `flow` at once; returns them once finished.
async fn run_many(c: &Client<'_>, flow: &str, n: usize) -> Vec<serde_json::Value> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(c.run(flow).await);
    }
    let mut out = Vec::new();
    for id in ids {
        out.push(c.finished(&id).await);
    }
    out
}

async fn twenty_concurrent_executions_refresh_an_expired_token_once(app: &App) {
    let replica = app.execution_replica().await;
    let provider = OAuthProvider::start().await;
    let c = Client::new(app, &app.admin);
    let secret = c
        .secret("cc", "OA2_CLIENT_CREDENTIALS", json!({"clientId": "c1", "clientSecret": "cs-race",
            "tokenUrl": provider.token_url(), "accessToken": "expired-token", "expires": "2020-01-01T00:00:00Z"}))
        .await;
    let fid = c
        .active_flow(http_flow("race", &[("call", provider.resource_url(), &secret)]))
        .await;
    for e in run_many(&c, &fid, 20).await {
        assert_eq!(e["status"], "succeeded", "{e}");
    }
    assert_eq!(provider.calls(), 1, "twenty executions, one refresh");
    assert_eq!(
        provider.resource_calls(),
        20,
        "every call carried the new token the first time"
    );

    // The provider revokes the token: every execution gets a 401, and the secret is refreshed once for all.
    provider.revoke();
    for e in run_many(&c, &fid, 20).await {
        assert_eq!(e["status"], "succeeded", "{e}");
    }
    assert_eq!(provider.calls(), 2, "one refresh after the 401s");
    assert!(provider.resource_calls() >= 40 && provider.resource_calls() <= 60);
    let shown = c.get(&format!("/secrets/{secret}")).await;
    assert_eq!(shown.body["data"]["value"]["accessToken"], "***");
    if let Some((task, stop)) = replica {
        stop.cancel();
        let _ = task.await;
    }
}

async fn a_token_endpoint_that_fails_fails_the_step_with_a_clear_error(app: &App) {
    let provider = OAuthProvider::start().await;
    let c = Client::new(app, &app.admin);
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
            "credential refresh failed: the token endpoint did not answer within 1 s",
        ),
    ];
    for (mode, message) in cases {
        provider.set_mode(mode);
        let before = provider.calls();
        let secret = c
            .secret(
                "failing",
                "OA2_CLIENT_CREDENTIALS",
                json!({"clientId": "c1", "clientSecret": "cs-failing",
                "tokenUrl": provider.token_url()}),
            )
            .await;
        let fid = c
            .active_flow(http_flow(
                "failing",
                &[("call", provider.resource_url(), &secret)],
            ))
            .await;
        for e in run_many(&c, &fid, 3).await {
            assert_eq!(e["status"], "failed", "{mode:?}: {e}");
            assert_eq!(
                e["error"],
                json!({"message": message, "name": "CredentialError"}),
                "{mode:?}"
            );
            let step = e["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["stepId"] == "call")
                .unwrap();
            assert_eq!(step["error"]["message"], message);
        }
        assert_eq!(
            provider.calls() - before,
            1,
            "{mode:?}: asked once, not once per execution or in a loop"
        );
        assert_eq!(
            provider.resource_calls(),
            0,
            "no request left without its credential"
        );
        let shown = c.get(&format!("/secrets/{secret}")).await;
        assert_eq!(
            shown.body["data"]["currentError"]["message"],
            message.trim_start_matches("credential refresh failed: ")
        );
    }
}

crate::secret_scenarios!(
    the_consent_round_trip_creates_a_secret_once_and_refuses_bad_states,
    twenty_concurrent_executions_refresh_an_expired_token_once,
    a_token_endpoint_that_fails_fails_the_step_with_a_clear_error,
);
