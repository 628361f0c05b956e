//! Scenario 6: what a credential adds to an `http` step. The same flow (webhook → `http` GET to a local target)
//! runs without a credential, with an `API_KEY` secret and with an `OA2_CLIENT_CREDENTIALS` secret (a simulated
//! provider whose resource accepts only its current token), each under the same async webhook load; the added
//! cost is FlowMate's CPU per execution minus the plain flow's. The secret is resolved once and then served from
//! the execution service's cache (30 s TTL, dropped on `secret.modified`/`secret.deleted`), which is the case
//! the < 50 µs target is about.

use std::{fmt::Write, path::Path, time::Duration};

use axum::{routing::get, Json, Router};
use flowmate_testkit::OAuthProvider;
use serde_json::{json, Value};

use crate::{
    api::{chain, Client},
    children::FlowMate,
    scenarios::cpu_seconds,
    wrk::{self, Request},
    CONNECTIONS,
};

/// One variant's figures.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    /// Executions completed per second.
    pub executions_per_sec: f64,
    /// FlowMate CPU per execution, µs.
    pub cpu_per_execution_us: f64,
}

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// No credential.
    pub plain: Variant,
    /// An `API_KEY` secret.
    pub api_key: Variant,
    /// An OAuth2 client-credentials secret.
    pub oauth: Variant,
}

async fn target() -> anyhow::Result<String> {
    let app = Router::new().route("/ok", get(|| async { Json(json!({"ok": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

async fn secret(client: &Client, kind: &str, value: Value) -> anyhow::Result<String> {
    let body = json!({"data": {"name": format!("bench {kind}"), "type": kind, "value": value}});
    let (status, body) = client
        .call(reqwest::Method::POST, "/secrets", Some(&body))
        .await?;
    anyhow::ensure!(status == 201, "create secret: {status} {body}");
    Ok(body["data"]["id"].as_str().unwrap_or_default().to_owned())
}

fn flow(name: &str, url: &str, secret: Option<&str>) -> Value {
    let mut call =
        json!({"id": "call", "componentId": "http", "function": "request", "fields": {"url": url}});
    if let Some(s) = secret {
        call["credentials_id"] = json!(s);
    }
    chain(
        name,
        vec![
            json!({"id": "in", "componentId": "webhook", "function": "receive"}),
            call,
        ],
        json!({}),
    )
}

async fn measure(
    client: &Client,
    flowmate: &FlowMate,
    body: Value,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<Variant> {
    let id = client.active_flow(body).await?;
    let cpu_before = cpu_seconds(flowmate);
    let started = std::time::Instant::now();
    let load = wrk::run(
        &Request {
            method: "POST",
            url: &format!("{}/hook/{id}", flowmate.base),
            body: Some("{}"),
            headers: &[],
        },
        CONNECTIONS,
        d,
        dir,
    )?;
    let accepted = load.requests - load.errors;
    let (done, recorded) = client
        .drained(&id, accepted, u64::from(CONNECTIONS), Duration::from_secs(300))
        .await?;
    Ok(Variant {
        executions_per_sec: recorded as f64 / done.duration_since(started).as_secs_f64(),
        cpu_per_execution_us: (cpu_seconds(flowmate) - cpu_before) / recorded.max(1) as f64 * 1e6,
    })
}

/// Runs the three variants.
pub async fn run(client: &Client, flowmate: &FlowMate, d: Duration, dir: &Path) -> anyhow::Result<Cost> {
    let base = target().await?;
    let provider = OAuthProvider::start().await;
    let key = secret(
        client,
        "API_KEY",
        json!({"key": "bench-api-key", "headerName": "x-api-key"}),
    )
    .await?;
    let oauth = secret(
        client,
        "OA2_CLIENT_CREDENTIALS",
        json!({"clientId": "bench", "clientSecret": "bench-secret", "tokenUrl": provider.token_url()}),
    )
    .await?;
    let url = format!("{base}/ok");
    let plain = measure(client, flowmate, flow("bench http", &url, None), d, dir).await?;
    let api_key = measure(
        client,
        flowmate,
        flow("bench http api key", &url, Some(&key)),
        d,
        dir,
    )
    .await?;
    let oauth = measure(
        client,
        flowmate,
        flow("bench http oauth2", &provider.resource_url(), Some(&oauth)),
        d,
        dir,
    )
    .await?;
    anyhow::ensure!(
        provider.calls() >= 1,
        "the OAuth2 variant never asked for a token"
    );
    Ok(Cost {
        plain,
        api_key,
        oauth,
    })
}

/// The report section.
pub fn render(out: &mut String, c: &Cost) {
    let _ = writeln!(out, "Scenario 6, what a credential adds to an `http` step (webhook → `http` GET to a local target; the secret cached after its first use):\n");
    let _ = writeln!(out, "| variant | executions/s | FlowMate CPU per execution | added per step | target < 50 µs |\n|---|---|---|---|---|");
    for (name, v) in [
        ("no credential", &c.plain),
        ("API_KEY (`x-api-key`)", &c.api_key),
        ("OAuth2 client credentials (bearer)", &c.oauth),
    ] {
        let added = v.cpu_per_execution_us - c.plain.cpu_per_execution_us;
        let verdict = if std::ptr::eq(v, &c.plain) {
            ""
        } else if added < 50.0 {
            "met"
        } else {
            "**missed**"
        };
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.0} µs | {} | {verdict} |",
            v.executions_per_sec,
            v.cpu_per_execution_us,
            if std::ptr::eq(v, &c.plain) {
                "–".to_owned()
            } else {
                format!("{added:.1} µs")
            }
        );
    }
    let _ = writeln!(out);
}
