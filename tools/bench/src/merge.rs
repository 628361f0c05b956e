//! Scenario 9: map-reduce inside one execution. Async webhooks carrying ten items into webhook → split(items) →
//! transform → merge(array): thirteen steps per execution (the trigger, the split, ten transforms, the merge).

use std::{fmt::Write, path::Path, time::Duration};

use serde_json::json;

use crate::{
    api::{node, Client},
    children::FlowMate,
    scenarios::cpu_seconds,
    wrk::{self, Request},
    CONNECTIONS,
};

/// Steps each execution records.
const STEPS: f64 = 13.0;

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct MergeFigures {
    /// Executions completed per second.
    pub executions_per_sec: f64,
    /// FlowMate CPU per execution, µs.
    pub cpu_per_execution_us: f64,
}

/// Runs the scenario for `d`.
pub async fn run(
    client: &Client,
    flowmate: &FlowMate,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<MergeFigures> {
    let body = json!({"name": "bench map-reduce", "graph": {
        "nodes": [node("in", "webhook", "receive", json!({})),
                  node("split", "split", "each", json!({"path": "items"})),
                  node("line", "transform", "map", json!({"expression": "{\"sku\": sku, \"amount\": price * qty}"})),
                  node("join", "merge", "wait", json!({"mode": "array"}))],
        "edges": [{"source": "in", "target": "split"}, {"source": "split", "target": "line"},
                  {"source": "line", "target": "join"}]}});
    let id = client.active_flow(body).await?;
    let items: Vec<_> = (0..10)
        .map(|i| json!({"sku": format!("s{i}"), "price": 2.5, "qty": i}))
        .collect();
    let payload = json!({"id": "ord-1", "items": items}).to_string();
    let cpu_before = cpu_seconds(flowmate);
    let started = std::time::Instant::now();
    let load = wrk::run(
        &Request {
            method: "POST",
            url: &format!("{}/hook/{id}", flowmate.base),
            body: Some(&payload),
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
    Ok(MergeFigures {
        executions_per_sec: recorded as f64 / done.duration_since(started).as_secs_f64(),
        cpu_per_execution_us: (cpu_seconds(flowmate) - cpu_before) / recorded.max(1) as f64 * 1e6,
    })
}

/// The report section.
pub fn render(out: &mut String, m: &MergeFigures) {
    let _ = writeln!(
        out,
        "Scenario 9, split(10) → transform → merge inside one execution (async webhooks, 13 steps each):\n\n\
         | executions/s | steps/s | FlowMate CPU per execution | CPU per step |\n|---|---|---|---|\n\
         | {:.0} | {:.0} | {:.0} µs | {:.1} µs |\n",
        m.executions_per_sec,
        m.executions_per_sec * STEPS,
        m.cpu_per_execution_us,
        m.cpu_per_execution_us / STEPS
    );
}
