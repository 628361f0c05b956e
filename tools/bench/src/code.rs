//! Scenario 7: the code step next to the JSONata transform step, with the same order-total logic. Async: webhook
//! → transform and webhook → code, and a webhook-only flow whose CPU per execution is subtracted to get each step's
//! own cost. Sync: webhook → transform → respond and webhook → code → respond, flat out.

use std::{fmt::Write, path::Path, time::Duration};

use serde_json::{json, Value};

use crate::{
    api::{chain, node, Client},
    children::FlowMate,
    scenarios::cpu_seconds,
    wrk::{self, Load, Request},
    CONNECTIONS, ORDER,
};

/// The transform scenario's expression.
const EXPRESSION: &str = "{\"order\": id, \"who\": customer.name, \"total\": $sum(items.(price * qty))}";
/// The same logic as code.
const CODE: &str = "let total = 0;\nfor (const item of data.items) total += item.price * item.qty;\n\
                    return {order: data.id, who: data.customer.name, total};";

/// One async variant.
#[derive(Debug, Clone, Default)]
pub struct Async {
    /// Executions completed per second.
    pub executions_per_sec: f64,
    /// FlowMate CPU per execution, µs.
    pub cpu_per_execution_us: f64,
}

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct CodeFigures {
    /// Webhook only.
    pub baseline: Async,
    /// Webhook → transform.
    pub transform: Async,
    /// Webhook → code.
    pub code: Async,
    /// Webhook → transform → respond, sync.
    pub transform_sync: Load,
    /// Webhook → code → respond, sync.
    pub code_sync: Load,
}

fn step(kind: &str) -> Value {
    match kind {
        "code" => node("calc", "code", "execute", json!({"code": CODE})),
        _ => node("calc", "transform", "map", json!({"expression": EXPRESSION})),
    }
}

fn flow(kind: &str, respond: bool) -> Value {
    let mut nodes = vec![node("in", "webhook", "receive", json!({}))];
    if kind != "none" {
        nodes.push(step(kind));
    }
    if respond {
        nodes.push(node("out", "respond", "reply", json!({})));
    }
    chain(&format!("bench {kind}"), nodes, json!({}))
}

async fn measure_async(
    client: &Client,
    flowmate: &FlowMate,
    kind: &str,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<Async> {
    let id = client.active_flow(flow(kind, false)).await?;
    let cpu_before = cpu_seconds(flowmate);
    let started = std::time::Instant::now();
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
    Ok(Async {
        executions_per_sec: recorded as f64 / done.duration_since(started).as_secs_f64(),
        cpu_per_execution_us: (cpu_seconds(flowmate) - cpu_before) / recorded.max(1) as f64 * 1e6,
    })
}

async fn measure_sync(
    client: &Client,
    flowmate: &FlowMate,
    kind: &str,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<Load> {
    let id = client.active_flow(flow(kind, true)).await?;
    wrk::run(
        &Request {
            method: "POST",
            url: &format!("{}/hook/{id}?sync=true", flowmate.base),
            body: Some(ORDER),
            headers: &[],
        },
        CONNECTIONS,
        d,
        dir,
    )
}

/// Runs the five variants.
pub async fn run(
    client: &Client,
    flowmate: &FlowMate,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<CodeFigures> {
    Ok(CodeFigures {
        baseline: measure_async(client, flowmate, "none", d, dir).await?,
        transform: measure_async(client, flowmate, "transform", d, dir).await?,
        code: measure_async(client, flowmate, "code", d, dir).await?,
        transform_sync: measure_sync(client, flowmate, "transform", d, dir).await?,
        code_sync: measure_sync(client, flowmate, "code", d, dir).await?,
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// The report section.
pub fn render(out: &mut String, c: &CodeFigures, secs: f64) {
    let step = |v: &Async| v.cpu_per_execution_us - c.baseline.cpu_per_execution_us;
    let (transform_us, code_us) = (step(&c.transform), step(&c.code));
    let _ = writeln!(out, "Scenario 7, the code step next to the JSONata transform step (the same order total; CPU per step is the flow's CPU per execution minus a webhook-only flow's):\n");
    let _ = writeln!(out, "| flow | executions/s | p50 | p99 | FlowMate CPU per execution | CPU of the step |\n|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| async webhook only | {:.0} | | | {:.0} µs | – |",
        c.baseline.executions_per_sec, c.baseline.cpu_per_execution_us
    );
    for (name, v, us) in [
        ("async webhook → transform", &c.transform, transform_us),
        ("async webhook → code", &c.code, code_us),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | | | {:.0} µs | {us:.1} µs |",
            v.executions_per_sec, v.cpu_per_execution_us
        );
    }
    for (name, l) in [
        (
            "sync webhook → transform → respond, 32 connections",
            &c.transform_sync,
        ),
        ("sync webhook → code → respond, 32 connections", &c.code_sync),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | | |",
            l.ok_rate(secs),
            l.p50,
            l.p99
        );
    }
    let ratio = c.code.executions_per_sec / c.transform.executions_per_sec.max(1.0);
    let _ = writeln!(out, "\n| target | measured | |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| a small code step ≤ 100 µs of CPU and ≤ 2× the transform step | {code_us:.1} µs, {:.2}× the transform's {transform_us:.1} µs | {} |",
        code_us / transform_us.max(0.1),
        verdict(code_us <= 100.0 && code_us <= 2.0 * transform_us.max(0.1))
    );
    let _ = writeln!(
        out,
        "| webhook → code ≥ 70 % of webhook → transform's executions/s | {:.0} % | {} |\n",
        ratio * 100.0,
        verdict(ratio >= 0.7)
    );
}
