//! Cron flows: each tick fires once, even with two execution service replicas competing for the schedule.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{edge, finished, flow, node, started, step_list, steps, wait_flow, Sentinel},
};

/// How many executions of a `/executions` listing succeeded.
fn succeeded(listing: &Value) -> usize {
    listing["data"].as_array().map_or(0, |items| {
        items.iter().filter(|e| e["status"] == "succeeded").count()
    })
}

/// Polls `listing` until two ticks have run to the end (30 s at most: a loaded machine can be slow to start).
async fn wait_two_ticks(app: &App, listing: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.api.get(listing, Some(&app.admin)).await;
        if succeeded(&r.body) >= 2 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than 2 ticks succeeded within 30 s: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The scheduled timestamp of every tick among `items` that ran; asserts each ran as a tick should.
async fn tick_times(app: &App, items: &[Value]) -> Vec<String> {
    let mut ticks = Vec::new();
    for item in items {
        let e = finished(app, item["id"].as_str().unwrap()).await;
        // A tick claimed just before the stop may reach the engine after it: it fails as FlowNotActive and runs no
        // step, which is the stop working, not a tick firing twice.
        if e["status"] == "failed" && e["error"]["name"] == "FlowNotActive" {
            continue;
        }
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(e["trigger"]["type"], "schedule");
        assert_eq!(
            steps(&e),
            step_list(&[("tick", "succeeded", 1), ("log", "succeeded", 1)]),
            "{e}"
        );
        let data = &e["steps"][0]["output"];
        assert!(data["nextSheduledTimestamp"].is_string(), "{data}");
        ticks.push(data["sheduledTimestamp"].as_str().unwrap().to_owned());
    }
    ticks
}

async fn schedules_fire_each_tick_once(app: &App) {
    // A second replica competes for the same schedule rows (distributed mode).
    let replica = app.execution_replica().await;
    let sentinel = Sentinel::new(app).await;
    let mut body = flow(
        "every second",
        vec![
            node("tick", "scheduler", "tick", json!({})),
            node("log", "log", "write", json!({})),
        ],
        vec![edge("tick", "log")],
    );
    body["cron"] = json!("* * * * * *");
    let fid = started(app, &app.admin, body).await;
    let listing = format!("/executions?filter[flowId]={fid}&page[size]=100");
    wait_two_ticks(app, &listing).await;
    app.api
        .post(&format!("/flows/{fid}/stop"), Some(&app.admin), &json!({}))
        .await;
    wait_flow(app, &app.admin, &fid, "inactive").await;
    // Inactive means the execution service dropped the schedule, so every tick ever fired — a duplicate from the
    // other replica included — is on the work queue already, ahead of the sentinel's trigger.
    sentinel.pass(app).await;
    let r = app.api.get(&listing, Some(&app.admin)).await;
    let items = r.body["data"].as_array().unwrap().clone();
    let mut ticks = tick_times(app, &items).await;
    assert!(
        ticks.len() >= 2,
        "at least 2 ticks succeeded, got {} of {} executions",
        ticks.len(),
        items.len()
    );
    let count = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), count, "no tick fired twice");
    if let Some((task, shutdown)) = replica {
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

crate::both_modes!(schedules_fire_each_tick_once);
