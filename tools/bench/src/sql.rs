//! Scenario 8: `sql.query` inserting one row per webhook on PostgreSQL (a database of its own on the
//! `TEST_DATABASE_URL` server; skipped without it). The flow is webhook → `sql.query` INSERT with three
//! parameters; the figures are executions/s, FlowMate's CPU per execution, and the same INSERT sent straight from
//! sqlx over as many connections as the step's pool has (4), the ceiling the database sets for that pool.

use std::{
    fmt::Write,
    path::Path,
    time::{Duration, Instant},
};

use flowmate_testkit::PgDatabase;
use serde_json::{json, Value};
use sqlx::Executor;

use crate::{
    api::{chain, Client},
    children::FlowMate,
    scenarios::cpu_seconds,
    wrk::{self, Request},
    CONNECTIONS, ORDER,
};

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct SqlFigures {
    /// Executions completed per second.
    pub executions_per_sec: f64,
    /// FlowMate CPU per execution, µs.
    pub cpu_per_execution_us: f64,
    /// Rows the table holds afterwards (one per recorded execution).
    pub rows: i64,
    /// The same INSERT from sqlx with 4 connections, rows/s.
    pub direct_per_sec: f64,
}

const INSERT: &str = "INSERT INTO bench_orders (request_id, customer, total) VALUES ($1, $2, $3)";

/// The same INSERT sent straight from sqlx for `d` over 4 connections.
async fn direct(url: &str, d: Duration) -> anyhow::Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < d {
                sqlx::query(INSERT)
                    .bind(format!("direct-{w}-{n}"))
                    .bind("Ada")
                    .bind(17.0f64)
                    .execute(&pool)
                    .await?;
                n += 1;
            }
            Ok::<u64, sqlx::Error>(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    pool.execute("DELETE FROM bench_orders WHERE request_id LIKE 'direct-%'")
        .await?;
    pool.close().await;
    Ok(rate)
}

/// Runs the scenario; `None` without `TEST_DATABASE_URL`.
pub async fn run(
    client: &Client,
    flowmate: &FlowMate,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<Option<SqlFigures>> {
    let Some(db) = PgDatabase::create().await else {
        return Ok(None);
    };
    let figures = measure(client, flowmate, &db.url, d, dir).await;
    db.drop_database().await;
    figures.map(Some)
}

async fn measure(
    client: &Client,
    flowmate: &FlowMate,
    url: &str,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<SqlFigures> {
    let pool = sqlx::PgPool::connect(url).await?;
    pool.execute("CREATE TABLE bench_orders (request_id TEXT, customer TEXT, total DOUBLE PRECISION)")
        .await?;
    let body =
        json!({"data": {"name": "bench orders db", "type": "MIXED", "value": {"payload": {"url": url}}}});
    let (status, created) = client
        .call(reqwest::Method::POST, "/secrets", Some(&body))
        .await?;
    anyhow::ensure!(status == 201, "create secret: {status} {created}");
    let secret = created["data"]["id"].as_str().unwrap_or_default().to_owned();
    let flow: Value = chain(
        "bench sql insert",
        vec![
            json!({"id": "in", "componentId": "webhook", "function": "receive"}),
            json!({"id": "save", "componentId": "sql", "function": "query", "credentials_id": secret,
                   "fields": {"query": INSERT, "params": ["$msg.id", "customer.name", "$sum(items.(price * qty))"]}}),
        ],
        json!({}),
    );
    let id = client.active_flow(flow).await?;
    let cpu_before = cpu_seconds(flowmate);
    let started = Instant::now();
    let load = wrk::run(
        &Request {
            method: "POST",
            url: &format!("{}/hook/{id}", flowmate.base),
            body: Some(ORDER),
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
    let executions_per_sec = recorded as f64 / done.duration_since(started).as_secs_f64();
    let cpu_per_execution_us = (cpu_seconds(flowmate) - cpu_before) / recorded.max(1) as f64 * 1e6;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bench_orders")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(SqlFigures {
        executions_per_sec,
        cpu_per_execution_us,
        rows,
        direct_per_sec: direct(url, d).await?,
    })
}

/// The report section.
pub fn render(out: &mut String, f: &SqlFigures) {
    let _ = writeln!(
        out,
        "Scenario 8, `sql.query` inserting one row per webhook on PostgreSQL (webhook → INSERT with three \
         parameters; the step's pool holds 4 connections per database):\n"
    );
    let _ = writeln!(
        out,
        "| figure | value |\n|---|---|\n| executions/s | {:.0} |\n| FlowMate CPU per execution | {:.0} µs |\n\
         | rows written (one per recorded execution) | {} |\n| the same INSERT straight from sqlx, 4 connections | {:.0} rows/s |\n",
        f.executions_per_sec, f.cpu_per_execution_us, f.rows, f.direct_per_sec
    );
}
