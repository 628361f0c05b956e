//! Key rotation under load, as an operator does it: put the new key first in `FLOWMATE_SECRETS_KEYS` (the old one
//! after it) and restart, run `flowmate secrets rotate` while executions use the secrets, then drop the old key.

use flowmate_config::SecretString;
use serde_json::json;

use super::support::{http_flow, Client, Target};
use crate::harness::{App, Mode};

const OLD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const NEW: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

async fn key_ids(app: &App) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.secrets_db()).await.unwrap();
    let mut ids: Vec<String> =
        sqlx::query_scalar("SELECT key_id FROM secrets UNION ALL SELECT key_id FROM auth_clients")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    ids.sort();
    ids.dedup();
    ids
}

async fn a_rotation_under_load_reseals_every_value_and_the_old_key_can_go(app: &mut App) {
    let target = Target::start().await;
    let (flow, secrets) = {
        let c = Client::new(app, &app.admin);
        let mut secrets = Vec::new();
        for i in 0..30 {
            secrets.push(
                c.secret(
                    &format!("k{i}"),
                    "API_KEY",
                    json!({"key": format!("rotated-key-{i}")}),
                )
                .await,
            );
        }
        c.post(
            "/auth-clients",
            &json!({"data": {"name": "app", "clientId": "c", "clientSecret": "app-secret",
            "endpoints": {"auth": "https://idp.example.com/a", "token": "https://idp.example.com/t"},
            "redirectUri": "https://flowmate.example.com/callback"}}),
        )
        .await;
        let flow = c
            .active_flow(http_flow(
                "rotating",
                &[("call", target.url("rotating"), &secrets[0])],
            ))
            .await;
        (flow, secrets)
    };
    let old_kids = key_ids(app).await;
    assert_eq!(old_kids.len(), 1, "one key so far: {old_kids:?}");

    app.restart_with(|s| {
        s.secrets_key = None;
        s.secrets_keys = Some(SecretString::from(format!("new:{NEW},{OLD}")));
    })
    .await;
    let c = Client::new(app, &app.admin);
    // Executions keep running while the rotation re-seals.
    let load = async {
        let mut runs = Vec::new();
        for _ in 0..20 {
            runs.push(c.run(&flow).await);
        }
        runs
    };
    let settings = app.secrets_settings();
    let (runs, report) = tokio::join!(load, flowmate::rotate_secrets(&settings));
    let report = report.unwrap();
    assert_eq!(report.resealed, 31, "{report:?}");
    assert_eq!((report.remaining, report.unreadable), (0, 0));
    for id in runs {
        let e = c.finished(&id).await;
        assert_eq!(e["status"], "succeeded", "{e}");
    }
    assert_eq!(target.got("rotating")["authorization"], "Bearer rotated-key-0");
    assert_eq!(key_ids(app).await, vec!["new"]);
    let again = flowmate::rotate_secrets(&settings).await.unwrap();
    assert_eq!(again.resealed, 0, "running it again finds nothing to do");

    // The old key is out of use: without it everything still opens.
    app.restart_with(|s| s.secrets_keys = Some(SecretString::from(format!("new:{NEW}"))))
        .await;
    let c = Client::new(app, &app.admin);
    let e = c.finished(&c.run(&flow).await).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    let r = c
        .patch(
            &format!("/secrets/{}", secrets[29]),
            &json!({"data": {"name": "still opens"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

mod standalone {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_under_load_reseals_every_value_and_the_old_key_can_go() {
        let Some(mut app) = crate::harness::spawn(super::Mode::Standalone).await else {
            return;
        };
        super::a_rotation_under_load_reseals_every_value_and_the_old_key_can_go(&mut app).await;
        app.stop().await;
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_under_load_reseals_every_value_and_the_old_key_can_go() {
        let Some(mut app) = crate::harness::spawn(super::Mode::Distributed).await else {
            return;
        };
        super::a_rotation_under_load_reseals_every_value_and_the_old_key_can_go(&mut app).await;
        app.stop().await;
    }
}
