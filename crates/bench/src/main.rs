//! `flowmate-bench`: measures FlowMate on this machine and writes `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p flowmate-bench                       # standalone, plus distributed when TEST_DATABASE_URL
//!                                                             # and TEST_AMQP_URL are set; writes BENCHMARKS.md
//! cargo run --release -p flowmate-bench -- --smoke --out F    # a 2-second run of every scenario (CI)
//! ```
//!
//! It starts FlowMate itself (children of this binary: `flowmate-bench serve`, `… service <name>`), prepares the
//! flows through the public API, drives load with `wrk` on 127.0.0.1, bounded in time, and compares each figure
//! with a "limit" measured in the same run: a bare axum handler doing only the unavoidable part of the work.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod children;
mod report;
mod wrk;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{
    children::{FlowMate, ADMIN, PASSWORD},
    report::{Mode, ModeResults, Report},
    wrk::{Load, Request},
};

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
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("serve" | "service")) {
        // FlowMate children run exactly as `flowmate` does, allocator settings included.
        flowmate::tune_allocator();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["serve"] => runtime.block_on(serve(None)),
        ["service", name] => runtime.block_on(serve(Some(name.to_string()))),
        ["serve-limit", mode, port] => runtime.block_on(limit(mode.to_string(), port.parse()?)),
        rest => {
            let mut options = Options {
                duration: Duration::from_secs(10),
                flows: 100_000,
                out: PathBuf::from("BENCHMARKS.md"),
                smoke: false,
                modes: vec![Mode::Standalone, Mode::Distributed],
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
                    "-h" | "--help" => {
                        println!("usage: flowmate-bench [--smoke] [--out BENCHMARKS.md] [--duration SECS] [--flows N] [--standalone-only|--distributed-only]");
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
    let shutdown = CancellationToken::new();
    match service {
        Some(name) => flowmate::run_service(&name, &settings, shutdown).await,
        None => {
            let running = flowmate::start(&settings, shutdown).await?;
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
        let results = scenarios(&options, mode, &flowmate, dir.path()).await;
        flowmate.stop().await;
        match results {
            Ok(r) => report.add(r),
            Err(e) => {
                eprintln!("{mode:?} failed: {e:#}");
                return Err(e);
            }
        }
    }
    std::fs::write(&options.out, report.render(started.elapsed()))?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}

/// A logged-in API client.
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn login(base: &str) -> anyhow::Result<Client> {
        let http = reqwest::Client::new();
        let r: Value = http
            .post(format!("{base}/login"))
            .json(&json!({"username": ADMIN, "password": PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = r["token"].as_str().context("login")?.to_owned();
        Ok(Client {
            http,
            base: base.to_owned(),
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Creates and starts a flow; returns its id once webhooks reach it.
    async fn active_flow(&self, flow: Value) -> anyhow::Result<String> {
        let (status, body) = self.call(reqwest::Method::POST, "/flows", Some(&flow)).await?;
        anyhow::ensure!(status == 201, "create flow: {status} {body}");
        let id = body["data"]["id"].as_str().context("flow id")?.to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/flows/{id}/start"),
            Some(&json!({})),
        )
        .await?;
        for _ in 0..300 {
            let r = self.http.head(format!("{}/hook/{id}", self.base)).send().await?;
            if r.status() == 200 {
                return Ok(id);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("flow {id} never became callable")
    }

    /// Succeeded executions of a flow.
    async fn succeeded(&self, flow: &str) -> anyhow::Result<u64> {
        let (_, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/executions?filter[flowId]={flow}&filter[status]=succeeded&page[size]=1"),
                None,
            )
            .await?;
        Ok(body["meta"]["total"].as_u64().unwrap_or(0))
    }

    /// Waits until `flow` has at least `accepted` succeeded executions and no more arrive; returns when the
    /// last one was recorded. wrk stops with up to `in_flight` requests sent but not counted (it closes the
    /// connections at the deadline), and those may still have been accepted: more than `accepted + in_flight`
    /// executions would mean duplicates.
    async fn drained(
        &self,
        flow: &str,
        accepted: u64,
        in_flight: u64,
        limit: Duration,
    ) -> anyhow::Result<(Instant, u64)> {
        let until = Instant::now() + limit;
        let mut last = (Instant::now(), 0);
        loop {
            let n = self.succeeded(flow).await?;
            if n != last.1 {
                last = (Instant::now(), n);
            }
            if n >= accepted && last.0.elapsed() > Duration::from_millis(500) {
                anyhow::ensure!(
                    n <= accepted + in_flight,
                    "{n} executions recorded for {accepted} accepted webhooks"
                );
                return Ok(last);
            }
            anyhow::ensure!(
                Instant::now() < until,
                "only {n} of {accepted} executions recorded"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn node(id: &str, component: &str, function: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": component, "function": function, "fields": fields})
}

fn chain(name: &str, nodes: Vec<Value>, settings: Value) -> Value {
    let edges: Vec<Value> = nodes
        .windows(2)
        .map(|w| json!({"source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    json!({"name": name, "flowSettings": settings, "graph": {"nodes": nodes, "edges": edges}})
}

/// Samples the processes' RSS until `stop`; returns the peak (MiB, all processes together).
fn sample_rss(flowmate: &FlowMate, stop: CancellationToken) -> tokio::task::JoinHandle<f64> {
    let status_files: Vec<String> = flowmate
        .processes
        .iter()
        .map(children::Child_::status_path)
        .collect();
    tokio::spawn(async move {
        let mut max = 0.0f64;
        while !stop.is_cancelled() {
            let total: f64 = status_files.iter().map(|f| children::rss_of(f)).sum();
            max = max.max(total);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        max
    })
}

/// CPU seconds the processes used so far.
fn cpu_seconds(flowmate: &FlowMate) -> f64 {
    flowmate
        .processes
        .iter()
        .map(|p| children::cpu_of(&p.stat_path()))
        .sum()
}

/// Sends `rate` requests per second for `duration` (open loop: a slow answer does not slow the sender), for the
/// sync scenario whose target is stated at a fixed rate.
async fn fixed_rate(url: &str, body: &str, rate: u32, duration: Duration) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()?;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    while Instant::now() < end {
        ticker.tick().await;
        let (client, url, body, latencies, errors) = (
            client.clone(),
            url.to_owned(),
            body.to_owned(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = match client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
            {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            if ok {
                latencies
                    .lock()
                    .unwrap()
                    .push(sent.elapsed().as_secs_f64() * 1000.0);
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Load {
        requests: l.len() as u64 + errors,
        errors,
        rate: l.len() as f64 / duration.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        command: format!(
            "built-in open-loop generator: {rate} POST/s for {}s",
            duration.as_secs()
        ),
    })
}

async fn scenarios(
    options: &Options,
    mode: Mode,
    flowmate: &FlowMate,
    dir: &Path,
) -> anyhow::Result<ModeResults> {
    let d = options.duration;
    let client = Client::login(&flowmate.base).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = flowmate.rss_mib();
    let mut r = ModeResults::new(mode, flowmate.ready_after, idle_rss);

    // 1. Async webhook ingest, and the executions it produces.
    let order_flow = chain(
        "bench orders",
        vec![
            node("in", "webhook", "receive", json!({})),
            node(
                "total",
                "transform",
                "map",
                json!({"expression": "{\"order\": id, \"who\": customer.name, \"total\": $sum(items.(price * qty))}"}),
            ),
        ],
        json!({}),
    );
    let flow = client.active_flow(order_flow).await?;
    let url = format!("{}/hook/{flow}", flowmate.base);
    let stop = CancellationToken::new();
    let rss = sample_rss(flowmate, stop.clone());
    let cpu_before = cpu_seconds(flowmate);
    let load_started = Instant::now();
    let ingest = wrk::run(
        &Request {
            method: "POST",
            url: &url,
            body: Some(ORDER),
            headers: &[],
        },
        CONNECTIONS,
        d,
        dir,
    )?;
    let accepted = ingest.requests - ingest.errors;
    let (done, recorded) = client
        .drained(&flow, accepted, u64::from(CONNECTIONS), Duration::from_secs(300))
        .await?;
    stop.cancel();
    let drain = done.duration_since(load_started).as_secs_f64();
    r.load_rss = rss.await.unwrap_or(0.0);
    r.ingest_cpu_per_execution_us = (cpu_seconds(flowmate) - cpu_before) / recorded.max(1) as f64 * 1e6;
    r.executions_per_sec = recorded as f64 / drain;
    r.accepted = accepted;
    r.all_recorded = true;
    r.ingest = ingest;
    let (limit_child, limit_base) = children::limit_server("json", "", dir).await?;
    r.ingest_limit = wrk::run(
        &Request {
            method: "POST",
            url: &format!("{limit_base}/hook/x"),
            body: Some(ORDER),
            headers: &[],
        },
        CONNECTIONS,
        d,
        dir,
    )?;
    drop(limit_child);

    // 2. The same flow in sync mode, at a fixed 1,000 requests/s and flat out.
    let sync_url = format!("{url}?sync=true");
    r.sync_fixed = fixed_rate(&sync_url, ORDER, 1000, d).await?;
    r.sync_max = wrk::run(
        &Request {
            method: "POST",
            url: &sync_url,
            body: Some(ORDER),
            headers: &[],
        },
        32,
        d,
        dir,
    )?;

    // 3. A five-step flow: transform, filter, split over 10 items, transform, log.
    let items: Vec<Value> = (0..10)
        .map(|i| json!({"sku": format!("sku-{i}"), "price": i, "qty": 2}))
        .collect();
    let body = json!({"id": "ord-2", "items": items}).to_string();
    let five = chain(
        "bench five steps",
        vec![
            node("in", "webhook", "receive", json!({})),
            node(
                "shape",
                "transform",
                "map",
                json!({"expression": "{\"order\": id, \"items\": items}"}),
            ),
            node(
                "check",
                "filter",
                "check",
                json!({"condition": "$count(items) > 0"}),
            ),
            node("each", "split", "each", json!({"path": "items"})),
            node(
                "line",
                "transform",
                "map",
                json!({"expression": "{\"sku\": sku, \"amount\": price * qty}"}),
            ),
            node("log", "log", "write", json!({"level": "debug"})),
        ],
        json!({}),
    );
    let five_flow = client.active_flow(five).await?;
    let cpu_before = cpu_seconds(flowmate);
    let started = Instant::now();
    let load = wrk::run(
        &Request {
            method: "POST",
            url: &format!("{}/hook/{five_flow}", flowmate.base),
            body: Some(&body),
            headers: &[],
        },
        CONNECTIONS,
        d,
        dir,
    )?;
    let accepted5 = load.requests - load.errors;
    let (done, recorded5) = client
        .drained(
            &five_flow,
            accepted5,
            u64::from(CONNECTIONS),
            Duration::from_secs(300),
        )
        .await?;
    let steps = recorded5 * 24;
    r.five_step_executions_per_sec = recorded5 as f64 / done.duration_since(started).as_secs_f64();
    r.five_step_cpu_per_step_us = (cpu_seconds(flowmate) - cpu_before) / steps.max(1) as f64 * 1e6;
    r.five_step_cpu_per_execution_us = (cpu_seconds(flowmate) - cpu_before) / recorded5.max(1) as f64 * 1e6;

    // 4. Reads with many flows stored.
    let mut created = 0;
    let mut some_id = String::new();
    while created < options.flows {
        let n = (options.flows - created).min(1000);
        let batch: Vec<Value> = (0..n)
            .map(|i| {
                chain(
                    &format!("seeded flow {}", created + i),
                    vec![node("in", "webhook", "receive", json!({}))],
                    json!({}),
                )
            })
            .collect();
        let (status, body) = client
            .call(reqwest::Method::POST, "/flows", Some(&Value::Array(batch)))
            .await?;
        anyhow::ensure!(status == 201, "seeding flows: {status} {body}");
        some_id = body["data"][n / 2]["id"].as_str().unwrap_or_default().to_owned();
        created += n;
    }
    let auth = format!("Bearer {}", client.token);
    let headers = [("Authorization", auth.as_str())];
    r.flows_stored = created;
    r.get_one = wrk::run(
        &Request {
            method: "GET",
            url: &format!("{}/flows/{some_id}", flowmate.base),
            body: None,
            headers: &headers,
        },
        32,
        d,
        dir,
    )?;
    r.list_page = wrk::run(
        &Request {
            method: "GET",
            url: &format!("{}/flows?page[size]=50", flowmate.base),
            body: None,
            headers: &headers,
        },
        32,
        d,
        dir,
    )?;
    let (limit_child, limit_base) = children::limit_server("row", &flowmate.flows_db, dir).await?;
    r.row_limit = wrk::run(
        &Request {
            method: "GET",
            url: &format!("{limit_base}/flow/{some_id}"),
            body: None,
            headers: &[],
        },
        32,
        d,
        dir,
    )?;
    drop(limit_child);
    Ok(r)
}
