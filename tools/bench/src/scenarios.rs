//! The scenarios of the benchmark issue, run against one FlowMate.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{
    api::{chain, node, Client},
    children::{self, FlowMate},
    report::{Mode, ModeResults},
    wrk::{self, Load, Request},
    Options, CONNECTIONS, ORDER,
};

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
pub(crate) fn cpu_seconds(flowmate: &FlowMate) -> f64 {
    flowmate
        .processes
        .iter()
        .map(|p| children::cpu_of(&p.stat_path()))
        .sum()
}

/// Sends `rate` requests per second for `duration` (open loop: a slow answer does not slow the sender), for the
/// sync scenario whose target is stated at a fixed rate.
pub async fn fixed_rate(url: &str, body: &str, rate: u32, duration: Duration) -> anyhow::Result<Load> {
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

/// What every scenario works with.
struct Bench<'a> {
    options: &'a Options,
    flowmate: &'a FlowMate,
    dir: &'a Path,
    client: Client,
}

/// Runs every scenario and returns the figures.
pub async fn run(
    options: &Options,
    mode: Mode,
    flowmate: &FlowMate,
    dir: &Path,
) -> anyhow::Result<ModeResults> {
    let client = Client::login(&flowmate.base).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = flowmate.rss_mib();
    let mut r = ModeResults::new(mode, flowmate.ready_after, idle_rss);
    let b = Bench {
        options,
        flowmate,
        dir,
        client,
    };
    let url = b.ingest(&mut r).await?;
    b.sync(&mut r, &url).await?;
    b.five_steps(&mut r).await?;
    b.reads(&mut r).await?;
    // 6. What a credential adds to an `http` step.
    r.credentials = Some(crate::credentials::run(&b.client, flowmate, options.duration, dir).await?);
    // 7. The code step next to the transform step.
    r.code = Some(crate::code::run(&b.client, flowmate, options.duration, dir).await?);
    // 8. `sql.query` inserting one row per webhook on PostgreSQL.
    r.sql = crate::sql::run(&b.client, flowmate, options.duration, dir).await?;
    // 9. Map-reduce inside one execution: split → transform → merge.
    r.merge = Some(crate::merge::run(&b.client, flowmate, options.duration, dir).await?);
    // 10. Noisy neighbour: one tenant floods, another's sync webhooks and a third's runs go on.
    r.noisy = Some(crate::noisy::run(&b.client, flowmate, options.duration, dir).await?);
    // 11. A tenant member's flow list (after 4., so the store holds its flows too).
    let flows = crate::listing::FLOWS.min(options.flows);
    r.listing = Some(crate::listing::run(&b.client, flowmate, flows, options.duration, dir).await?);
    Ok(r)
}

impl Bench<'_> {
    /// 1. Async webhook ingest, and the executions it produces; returns the webhook's URL.
    async fn ingest(&self, r: &mut ModeResults) -> anyhow::Result<String> {
        let (d, dir, flowmate, client) = (self.options.duration, self.dir, self.flowmate, &self.client);
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

        Ok(url)
    }

    /// 2. The same flow in sync mode, at a fixed 1,000 requests/s and flat out.
    async fn sync(&self, r: &mut ModeResults, url: &str) -> anyhow::Result<()> {
        let (d, dir) = (self.options.duration, self.dir);
        // 2. The same flow in sync mode, at a fixed 1,000 requests/s and flat out.
        let sync_url = format!("{url}?sync=true");
        // Two seconds of the same load first, not measured: the scenario's target is the steady state, and FlowMate
        // has been idle through the limit run, so its first burst pays for touching memory again (BENCHMARKS.md notes).
        let warm_up = d.min(Duration::from_secs(2));
        fixed_rate(&sync_url, ORDER, 1000, warm_up).await?;
        r.sync_fixed = fixed_rate(&sync_url, ORDER, 1000, d).await?;
        r.sync_fixed.command = format!(
            "{}, after {} s of the same load (not measured)",
            r.sync_fixed.command,
            warm_up.as_secs()
        );
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

        Ok(())
    }

    /// 3. A five-step flow: transform, filter, split over 10 items, transform, log.
    async fn five_steps(&self, r: &mut ModeResults) -> anyhow::Result<()> {
        let (d, dir, flowmate, client) = (self.options.duration, self.dir, self.flowmate, &self.client);
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
        r.five_step_cpu_per_execution_us =
            (cpu_seconds(flowmate) - cpu_before) / recorded5.max(1) as f64 * 1e6;

        Ok(())
    }

    /// 4. Reads with many flows stored.
    async fn reads(&self, r: &mut ModeResults) -> anyhow::Result<()> {
        let (d, dir, flowmate, client, options) = (
            self.options.duration,
            self.dir,
            self.flowmate,
            &self.client,
            self.options,
        );
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
        Ok(())
    }
}
