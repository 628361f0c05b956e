//! Scenario 10: noisy neighbour (the fairness issue). Tenant A floods an async webhook flow at full speed (wrk,
//! 32 connections) while tenant B sends sync webhooks at a fixed 200/s and tenant C starts manual runs, five a
//! second. Reported for B: p50/p99 of its sync answers; for C: how long its runs waited to start (its execution's
//! first step started, less the moment the run was accepted, both from FlowMate's own timestamps); each without
//! the flood and with it.

use std::{fmt::Write, path::Path, time::Duration};

use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    api::{chain, node, Client},
    children::FlowMate,
    scenarios::fixed_rate,
    wrk::{self, Load, Request},
    CONNECTIONS, ORDER,
};

/// B's sync webhooks per second.
const B_RATE: u32 = 200;
/// C's manual runs per second.
const C_RATE: u64 = 5;

/// One phase's figures.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    /// B's sync webhooks.
    pub b: Load,
    /// C's start latencies, ms: p50, p99, max, and how many.
    pub c: (f64, f64, f64, usize),
    /// A's accepted webhooks per second (0 without the flood).
    pub a_rate: f64,
    /// A's accepted webhooks.
    pub a_accepted: u64,
}

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct NoisyFigures {
    /// Without the flood.
    pub quiet: Phase,
    /// While A floods.
    pub flooded: Phase,
}

/// The order flow of scenario 1, of `tenant` (a webhook trigger: runs by hand take any trigger, and the helper
/// waits for the hook to open as the sign the flow is active).
async fn flow_of(client: &Client, tenant: &str, name: &str) -> anyhow::Result<String> {
    let mut body = chain(
        name,
        vec![
            node("in", "webhook", "receive", json!({})),
            node(
                "total",
                "transform",
                "map",
                json!({"expression": "{\"order\": id, \"total\": $sum(items.(price * qty))}"}),
            ),
        ],
        json!({}),
    );
    body["tenant"] = json!(tenant);
    client.active_flow(body).await
}

fn at(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Starts C's runs at [`C_RATE`] for `d`, then reads how long each waited to start.
async fn c_runs(client: &Client, flow: &str, d: Duration) -> anyhow::Result<(f64, f64, f64, usize)> {
    let order: Value = serde_json::from_str(ORDER)?;
    let mut ids = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / C_RATE));
    let end = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < end {
        ticker.tick().await;
        let (status, body) = client
            .call(Method::POST, &format!("/flows/{flow}/run"), Some(&order))
            .await?;
        anyhow::ensure!(status == 202, "run: {status} {body}");
        ids.push(body["data"]["id"].as_str().context("execution id")?.to_owned());
    }
    let mut waits = Vec::new();
    for id in &ids {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let (_, e) = client
                .call(Method::GET, &format!("/executions/{id}"), None)
                .await?;
            let started = at(&e["data"]["steps"][0]["startedAt"]);
            if let (Some(accepted), Some(started)) = (at(&e["data"]["startedAt"]), started) {
                waits.push((started - accepted).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                break;
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "run {id} did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    waits.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        waits
            .get(((waits.len() as f64 * p) as usize).min(waits.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok((
        pct(0.5),
        pct(0.99),
        waits.last().copied().unwrap_or(0.0),
        waits.len(),
    ))
}

/// B and C for `d`, with A flooding when `flood` is given.
async fn phase(
    client: &Client,
    b_url: &str,
    c_flow: &str,
    flood: Option<(&str, &Path)>,
    d: Duration,
) -> anyhow::Result<Phase> {
    let a = flood.map(|(url, dir)| {
        let (url, dir) = (url.to_owned(), dir.to_owned());
        tokio::task::spawn_blocking(move || {
            wrk::run(
                &Request {
                    method: "POST",
                    url: &url,
                    body: Some(ORDER),
                    headers: &[],
                },
                CONNECTIONS,
                d,
                &dir,
            )
        })
    });
    // Let the flood build a backlog before B and C start.
    if a.is_some() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let b_d = d
        .saturating_sub(Duration::from_millis(if a.is_some() { 1000 } else { 0 }))
        .max(Duration::from_secs(1));
    let (b, c) = tokio::join!(fixed_rate(b_url, ORDER, B_RATE, b_d), c_runs(client, c_flow, b_d));
    let a_accepted = match a {
        Some(a) => {
            let load = a.await??;
            load.requests - load.errors
        }
        None => 0,
    };
    Ok(Phase {
        b: b?,
        c: c?,
        a_rate: a_accepted as f64 / d.as_secs_f64(),
        a_accepted,
    })
}

/// Runs the scenario for `d` per phase.
pub async fn run(
    client: &Client,
    flowmate: &FlowMate,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<NoisyFigures> {
    let (a, b, c) = (
        client.tenant("bench flooder").await?,
        client.tenant("bench sync").await?,
        client.tenant("bench runs").await?,
    );
    let a_flow = flow_of(client, &a, "bench flood").await?;
    let b_flow = flow_of(client, &b, "bench sync neighbour").await?;
    let c_flow = flow_of(client, &c, "bench manual neighbour").await?;
    let b_url = format!("{}/hook/{b_flow}?sync=true", flowmate.base);
    let a_url = format!("{}/hook/{a_flow}", flowmate.base);
    let quiet = phase(client, &b_url, &c_flow, None, d).await?;
    let flooded = phase(client, &b_url, &c_flow, Some((&a_url, dir)), d).await?;
    // A's backlog drains before the next scenario.
    client
        .drained(
            &a_flow,
            flooded.a_accepted,
            u64::from(CONNECTIONS),
            Duration::from_secs(300),
        )
        .await?;
    Ok(NoisyFigures { quiet, flooded })
}

/// The report section.
pub fn render(out: &mut String, n: &NoisyFigures) {
    let _ = writeln!(
        out,
        "Scenario 10, noisy neighbour: tenant A floods an async webhook flow (wrk, {CONNECTIONS} connections), tenant \
         B sends sync webhooks at {B_RATE}/s, tenant C starts {C_RATE} manual runs/s (C's wait: its first step's start \
         less the run's acceptance, FlowMate's timestamps):\n\n\
         | | A accepted/s | B sync p50 | B sync p99 | B errors | C start p50 | C start p99 | C start max | C runs |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for (name, p) in [("without the flood", &n.quiet), ("while A floods", &n.flooded)] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
            p.a_rate, p.b.p50, p.b.p99, p.b.errors, p.c.0, p.c.1, p.c.2, p.c.3
        );
    }
    let _ = writeln!(out);
}
