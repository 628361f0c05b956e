//! A split → http → merge flow over 10 items, with the standalone process killed (SIGKILL) while the branches
//! run: after the restart the execution continues from its checkpoints and the merge fires once, with all ten
//! results in order; an `http` call already checkpointed is not made again (only the one cut off may be).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};

use crate::cluster::Process;

/// Calls per item, answered slowly so the kill lands between branches.
type Calls = Arc<Mutex<Vec<u64>>>;

async fn target() -> (String, Calls, Arc<AtomicUsize>) {
    let calls: Calls = Arc::new(Mutex::new(Vec::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/item",
            post(|State((calls, total)): State<(Calls, Arc<AtomicUsize>)>, Json(body): Json<Value>| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let n = body["n"].as_u64().unwrap_or(0);
                calls.lock().unwrap().push(n);
                total.fetch_add(1, Ordering::SeqCst);
                Json(json!({"n": n, "squared": n * n}))
            }),
        )
        .with_state((calls.clone(), total.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, calls, total)
}

fn map_reduce(target: &str) -> Value {
    json!({"name": "map-reduce", "graph": {
        "nodes": [
            {"id": "in", "componentId": "manual", "function": "run"},
            {"id": "split", "componentId": "split", "function": "each", "fields": {"path": "items"}},
            {"id": "call", "componentId": "http", "function": "request",
             "fields": {"method": "POST", "url": format!("{target}/item"), "body": {"n": "{{ n }}"}},
             "nodeSettings": {"applyTransform": "after", "transformFunction": "body"}},
            {"id": "join", "componentId": "merge", "function": "wait", "fields": {"mode": "array"}}],
        "edges": [{"source": "in", "target": "split"}, {"source": "split", "target": "call"},
                  {"source": "call", "target": "join"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_after_a_kill_between_branches_fires_once_with_every_item() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let (base, calls, total) = target().await;
    let dir = flowmate_testkit::TempDir::new().unwrap();
    let mut node = Process::standalone(dir.path()).with_env("FLOWMATE_HTTP_ALLOW_PRIVATE_NETWORK", "true");
    node.start().await;
    let api = flowmate_testkit::Api::new(node.base());
    let token = crate::login(&api).await;
    let r = api.post("/flows", Some(&token), &map_reduce(&base)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let flow = r.body["data"]["id"].as_str().unwrap().to_owned();
    api.post(&format!("/flows/{flow}/start"), Some(&token), &json!({}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get(&format!("/flows/{flow}"), Some(&token)).await.body["data"]["status"] != "active" {
        assert!(Instant::now() < deadline, "the flow never became active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items: Vec<Value> = (1..=10).map(|n| json!({"n": n})).collect();
    let r = api
        .post(
            &format!("/flows/{flow}/run"),
            Some(&token),
            &json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();

    // Kill between branches: some items called, others not yet.
    while total.load(Ordering::SeqCst) < 4 {
        assert!(Instant::now() < deadline, "the branches never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.kill();
    let at_kill = total.load(Ordering::SeqCst);
    assert!(at_kill < 10, "killed between branches ({at_kill} of 10 called)");
    node.start().await;
    let token = crate::login(&api).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let execution = loop {
        let r = api.get(&format!("/executions/{id}"), Some(&token)).await;
        if matches!(r.body["data"]["status"].as_str(), Some("succeeded" | "failed")) {
            break r.body["data"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the execution never finished: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let joins: Vec<&Value> = execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stepId"] == "join")
        .collect();
    assert_eq!(joins.len(), 1, "the merge fired once: {execution}");
    let expected: Vec<Value> = (1..=10u64).map(|n| json!({"n": n, "squared": n * n})).collect();
    assert_eq!(joins[0]["output"], Value::Array(expected));
    let calls = calls.lock().unwrap().clone();
    for n in 1..=10 {
        assert!(calls.contains(&n), "item {n} was called: {calls:?}");
    }
    assert!(
        calls.len() <= 11,
        "only a call cut off by the kill may be repeated: {calls:?}"
    );
    node.kill();
}
