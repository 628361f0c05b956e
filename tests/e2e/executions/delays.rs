//! The `delay` step parks an execution durably: it resumes on time after every service restarted.

use serde_json::json;

use crate::{
    harness::App,
    support::{edge, finished, flow, node, run, started, step_list, steps, wait_execution},
};

async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart(app: &mut App) {
    // Long enough to see the execution parked and to restart every service while it still waits, even on a slow
    // machine; short enough to keep the test quick.
    const DELAY_MS: i64 = 5_000;
    let fid = started(
        app,
        &app.admin,
        flow(
            "patient",
            vec![
                node("start", "manual", "run", json!({})),
                node("wait", "delay", "wait", json!({"ms": DELAY_MS})),
                node("done", "log", "write", json!({})),
            ],
            vec![edge("start", "wait"), edge("wait", "done")],
        ),
    )
    .await;
    let id = run(app, &app.admin, &fid, json!({"x": 1})).await;
    let parked = wait_execution(app, &app.admin, &id, |e| e["waitingUntil"].is_string()).await;
    assert_eq!(parked["status"], "running");
    assert_eq!(steps(&parked), step_list(&[("start", "succeeded", 1)]));
    app.restart().await;
    let e = finished(app, &id).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        steps(&e),
        step_list(&[
            ("start", "succeeded", 1),
            ("wait", "succeeded", 1),
            ("done", "succeeded", 1)
        ])
    );
    assert!(e.get("waitingUntil").is_none());
    let waited = flowmate_domain::time::parse(e["steps"][1]["finishedAt"].as_str().unwrap()).unwrap()
        - flowmate_domain::time::parse(e["steps"][0]["finishedAt"].as_str().unwrap()).unwrap();
    assert!(
        waited.num_milliseconds() >= DELAY_MS,
        "the delay lasts {DELAY_MS} ms across the restart, waited {waited}"
    );
}

mod standalone {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Standalone).await else {
            return;
        };
        super::a_delay_parks_the_execution_and_it_resumes_after_a_restart(&mut app).await;
        app.stop().await;
    }
}

mod distributed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delay_parks_the_execution_and_it_resumes_after_a_restart() {
        let Some(mut app) = crate::harness::spawn(crate::harness::Mode::Distributed).await else {
            return;
        };
        super::a_delay_parks_the_execution_and_it_resumes_after_a_restart(&mut app).await;
        app.stop().await;
    }
}
