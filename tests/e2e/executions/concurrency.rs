//! `flowSettings.concurrency` (API.md §12): never more executions of a flow in progress than it allows, whether
//! they come from webhooks or manual runs; the others wait as `queued` and all of them finish. Observed from the
//! steps' timestamps, not timed. Both modes.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{
    harness::App,
    support::{finished, node, run},
    webhooks::helpers::{post_raw, request_id, started},
};

/// Executions of the flow in progress at once, at most.
const LIMIT: u64 = 2;

fn at(v: &Value) -> DateTime<Utc> {
    flowmate_domain::time::parse(v.as_str().unwrap()).unwrap()
}

/// The most intervals that overlap at one moment (an interval ending when another starts does not overlap it).
fn most_at_once(intervals: &[(DateTime<Utc>, DateTime<Utc>)]) -> usize {
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for (start, end) in intervals {
        edges.push((*start, 1));
        edges.push((*end, -1));
    }
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    most as usize
}

async fn a_flow_never_runs_more_executions_at_once_than_its_concurrency(app: &App) {
    let body = json!({"name": "one at a time", "flowSettings": {"concurrency": LIMIT},
        "graph": {"nodes": [node("in", "webhook", "receive", json!({})),
                            node("wait", "delay", "wait", json!({"ms": 300})),
                            node("done", "log", "write", json!({}))],
                  "edges": [{"source": "in", "target": "wait"}, {"source": "wait", "target": "done"}]}});
    let fid = started(app, &app.admin, body).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let r = post_raw(
            app,
            &format!("/hook/{fid}"),
            Some("application/json"),
            &format!("{{\"n\":{n}}}"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(request_id(&r));
        ids.push(run(app, &app.admin, &fid, json!({"n": n})).await);
    }
    let mut intervals = Vec::new();
    for id in &ids {
        let e = finished(app, id).await;
        assert_eq!(e["status"], "succeeded", "{e}");
        let steps = e["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3, "{e}");
        intervals.push((at(&steps[0]["startedAt"]), at(&steps[2]["finishedAt"])));
    }
    let most = most_at_once(&intervals);
    eprintln!(
        "{} executions, at most {most} in progress at once (limit {LIMIT})",
        ids.len()
    );
    assert!(
        most as u64 <= LIMIT,
        "{most} executions ran at once: {intervals:?}"
    );
}

async fn a_concurrency_out_of_range_is_refused_when_the_flow_is_saved(app: &App) {
    for bad in [json!(0), json!(-1), json!(1.5), json!("2"), json!(10_001)] {
        let r = app
            .api
            .post(
                "/flows",
                Some(&app.admin),
                &json!({"name": "bad", "flowSettings": {"concurrency": bad},
                        "graph": {"nodes": [node("in", "manual", "run", json!({}))], "edges": []}}),
            )
            .await;
        assert_eq!(r.status, 400, "concurrency {bad}: {:?}", r.body);
        assert_eq!(
            r.body["errors"][0]["message"],
            "flowSettings.concurrency must be a whole number from 1 to 10000 (or null for no limit).",
            "{:?}",
            r.body
        );
    }
}

crate::both_modes!(
    a_flow_never_runs_more_executions_at_once_than_its_concurrency,
    a_concurrency_out_of_range_is_refused_when_the_flow_is_saved,
);
