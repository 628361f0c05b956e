//! `flowmate-bench`: measures FlowMate on this machine and writes `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p flowmate-bench                       # standalone, plus distributed when TEST_DATABASE_URL
//!                                                             # and TEST_AMQP_URL are set; writes BENCHMARKS.md
//! cargo run --release -p flowmate-bench -- --smoke --out F    # a 2-second run of every scenario (CI)
//! cargo run --release -p flowmate-bench -- rate URL 1000 10    # POST the order body to URL at 1,000/s for 10 s
//! ```
//!
//! It starts FlowMate itself (children of this binary: `flowmate-bench serve`, `… service <name>`), prepares the
//! flows through the public API, drives load with `wrk` on 127.0.0.1, bounded in time, and compares each figure
//! with a "limit" measured in the same run: a bare axum handler doing only the unavoidable part of the work.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod api;
mod children;
mod code;
mod console;
mod credentials;
mod listing;
mod merge;
mod noisy;
mod report;
mod scenarios;
mod sql;
mod wrk;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::report::{Mode, Report};

/// The webhook body of scenario 1 (from the benchmark issue).
pub const ORDER: &str =
    r#"{"id":"ord-1","customer":{"name":"Ada"},"items":[{"price":3.5,"qty":2},{"price":10,"qty":1}]}"#;

/// Concurrent connections of the load generator: enough to keep both cores busy, few enough that latency reflects
/// the server rather than a queue in front of it.
pub const CONNECTIONS: u32 = 32;

/// Benchmark options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds of load per scenario.
    pub duration: Duration,
    /// Flows stored for the read scenario.
    pub flows: usize,
    /// Where the report goes.
    pub out: PathBuf,
    /// A 2-second smoke run.
    pub smoke: bool,
    /// Which modes.
    pub modes: Vec<Mode>,
    /// Only scenario 10 (noisy neighbour), its table alone in the report.
    pub noisy_only: bool,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // FlowMate children (`serve`, `service`) run on the same runtime as `flowmate`.
    let runtime = flowmate_telemetry::memory::runtime()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["serve"] => runtime.block_on(serve(None)),
        ["service", name] => runtime.block_on(serve(Some(name.to_string()))),
        ["serve-limit", mode, port] => runtime.block_on(limit(mode.to_string(), port.parse()?)),
        ["rate", url, rate, secs] => {
            // An open-loop load at a fixed rate against a running FlowMate (the sync scenario's generator), for
            // profiling one path without the whole run.
            let load = runtime.block_on(scenarios::fixed_rate(
                url,
                ORDER,
                rate.parse().context("rate: requests per second")?,
                Duration::from_secs(secs.parse().context("seconds")?),
            ))?;
            println!(
                "{:.0}/s answered, {} failed, p50 {:.2} ms, p99 {:.2} ms",
                load.rate, load.errors, load.p50, load.p99
            );
            Ok(())
        }
        ["console", url, user, password, rest @ ..] => {
            let n = rest
                .first()
                .map_or(Ok(200), |n| n.parse())
                .context("N: renders per page")?;
            runtime.block_on(console::measure(url, user, password, n))
        }
        rest => {
            let mut options = Options {
                duration: Duration::from_secs(10),
                flows: 100_000,
                out: PathBuf::from("BENCHMARKS.md"),
                smoke: false,
                modes: vec![Mode::Standalone, Mode::Distributed],
                noisy_only: false,
            };
            let mut it = rest.iter();
            while let Some(arg) = it.next() {
                match *arg {
                    "--smoke" => {
                        options.smoke = true;
                        options.duration = Duration::from_secs(1);
                        options.flows = 200;
                    }
                    "--out" => options.out = PathBuf::from(it.next().context("--out needs a path")?),
                    "--duration" => {
                        options.duration =
                            Duration::from_secs(it.next().context("--duration needs seconds")?.parse()?)
                    }
                    "--flows" => options.flows = it.next().context("--flows needs a number")?.parse()?,
                    "--standalone-only" => options.modes = vec![Mode::Standalone],
                    "--distributed-only" => options.modes = vec![Mode::Distributed],
                    "--noisy-only" => options.noisy_only = true,
                    "-h" | "--help" => {
                        println!("usage: flowmate-bench [--smoke] [--out BENCHMARKS.md] [--duration SECS] [--flows N] [--standalone-only|--distributed-only] [--noisy-only]\n       flowmate-bench rate URL PER_SECOND SECONDS   # POST the order body at a fixed rate (open loop), print p50/p99\n       flowmate-bench console URL USER PASSWORD [N] # time N renders of the console's executions page");
                        return Ok(());
                    }
                    other => anyhow::bail!("unknown argument {other:?} (see --help)"),
                }
            }
            runtime.block_on(run(options))
        }
    }
}

/// `serve`: FlowMate standalone; `service <name>`: one service. Configured from `FLOWMATE_*`; runs until killed.
async fn serve(service: Option<String>) -> anyhow::Result<()> {
    let settings = flowmate_config::Settings::load()?;
    match service {
        Some(name) => flowmate::run_service(&name, settings).await,
        None => {
            let running = flowmate::start(&settings, CancellationToken::new()).await?;
            running.stopped().await;
            Ok(())
        }
    }
}

/// The limits: `json` parses a webhook body and answers 200; `row` reads one flow row from `BENCH_DB`.
async fn limit(mode: String, port: u16) -> anyhow::Result<()> {
    use axum::{extract::Path, routing::get, routing::post, Json, Router};
    let router = match mode.as_str() {
        "json" => Router::new().route(
            "/hook/{id}",
            post(|Path(_id): Path<String>, Json(body): Json<Value>| async move {
                std::hint::black_box(&body);
                Json(json!({"data": {"requestId": "x", "message": "thank you"}}))
            }),
        ),
        "row" => {
            sqlx::any::install_default_drivers();
            let url = std::env::var("BENCH_DB")?;
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(8)
                .connect(&url)
                .await?;
            Router::new().route(
                "/flow/{id}",
                get(move |Path(id): Path<String>| {
                    let pool = pool.clone();
                    async move {
                        let body: Option<String> = sqlx::query_scalar("SELECT body FROM flows WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&pool)
                            .await
                            .unwrap_or(None);
                        let body: Value = body
                            .and_then(|b| serde_json::from_str(&b).ok())
                            .unwrap_or(Value::Null);
                        Json(json!({"data": body, "meta": {}}))
                    }
                }),
            )
        }
        other => anyhow::bail!("unknown limit {other}"),
    };
    let router = router.route("/ready", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

/// Runs every scenario in each mode and writes the report.
async fn run(options: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut report = Report::new(&options);
    let mut noisy_report = String::from("## Scenario 10 alone (flowmate-bench --noisy-only)\n\n");
    for mode in options.modes.clone() {
        let dir = flowmate_testkit::TempDir::new()?;
        let flowmate = match mode {
            Mode::Standalone => Some(children::standalone(dir.path()).await?),
            Mode::Distributed => children::distributed(dir.path()).await?,
        };
        let Some(flowmate) = flowmate else {
            eprintln!("distributed mode skipped: set TEST_DATABASE_URL and TEST_AMQP_URL");
            report.skipped(mode, "TEST_DATABASE_URL / TEST_AMQP_URL not set");
            continue;
        };
        eprintln!("{mode:?}: ready after {:?}", flowmate.ready_after);
        if options.noisy_only {
            let figures = noisy_only(&options, &flowmate, dir.path()).await;
            flowmate.stop().await;
            let mut section = format!("### {mode:?}\n\n");
            noisy::render(&mut section, &figures?);
            print!("{section}");
            noisy_report.push_str(&section);
            continue;
        }
        let results = scenarios::run(&options, mode, &flowmate, dir.path()).await;
        flowmate.stop().await;
        match results {
            Ok(r) => report.add(r),
            Err(e) => {
                eprintln!("{mode:?} failed: {e:#}");
                return Err(e);
            }
        }
    }
    if options.noisy_only {
        std::fs::write(&options.out, noisy_report)?;
        eprintln!("wrote {}", options.out.display());
        return Ok(());
    }
    std::fs::write(&options.out, report.render(started.elapsed()))?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}

/// Scenario 10 alone against `flowmate`.
async fn noisy_only(
    options: &Options,
    flowmate: &children::FlowMate,
    dir: &std::path::Path,
) -> anyhow::Result<noisy::NoisyFigures> {
    let client = api::Client::login(&flowmate.base).await?;
    noisy::run(&client, flowmate, options.duration, dir).await
}
