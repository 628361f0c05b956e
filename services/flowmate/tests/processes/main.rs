//! FlowMate as real OS processes, configured only through `FLOWMATE_*` environment variables (as the Kubernetes
//! manifests set them), killed with SIGKILL in the middle of a load of webhooks and started again:
//!
//! - standalone: one `flowmate` process on its data directory;
//! - distributed: every service its own process (`flowmate service <name>`, the code each `flowmate-<name>`
//!   binary runs) on PostgreSQL and RabbitMQ — the main user journey, with the webhook service and then the
//!   execution service killed and restarted under load.
//!
//! The promise checked: every webhook that got 200 ends as exactly one finished execution. `outage.rs`: RabbitMQ
//! unreachable for the webhook service for 10 s under load refuses, loses and duplicates no webhook.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod merge;
mod outage;

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cluster::{Cluster, Process};
use serde_json::{json, Value};

/// The tests here load both cores on their own; run one at a time.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The webhook → transform flow of the benchmarks.
pub(crate) fn order_flow() -> Value {
    json!({"name": "orders", "graph": {
        "nodes": [{"id": "in", "componentId": "webhook", "function": "receive"},
                  {"id": "total", "componentId": "transform", "function": "map",
                   "fields": {"expression": "{\"order\": id, \"total\": $sum(items.(price * qty))}"}}],
        "edges": [{"source": "in", "target": "total"}]}})
}

pub(crate) const ORDER: &str =
    r#"{"id":"ord-1","customer":{"name":"Ada"},"items":[{"price":3.5,"qty":2},{"price":10,"qty":1}]}"#;

/// Sends webhooks from `clients` concurrent clients until `stop`, recording the request ids answered 200.
fn load(
    base: Arc<Mutex<String>>,
    flow: String,
    clients: usize,
    accepted: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|_| {
            let (base, flow, accepted, stop) = (base.clone(), flow.clone(), accepted.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let url = format!("{}/hook/{flow}", base.lock().unwrap());
                    let sent = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(ORDER)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 200 => {
                            if let Ok(body) = r.json::<Value>().await {
                                if let Some(id) = body["data"]["requestId"].as_str() {
                                    accepted.lock().unwrap().insert(id.to_owned());
                                }
                            }
                        }
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect()
}

/// Waits until every accepted request id is a succeeded execution with exactly its two steps (an execution id is
/// unique, so none can be recorded twice; a repeated step would show as a third), and no execution of the flow
/// failed. (Requests the crash cut off before the client saw 200 may have executions too: they were accepted by
/// FlowMate but not acknowledged to the client, which is allowed.)
pub(crate) async fn every_accepted_request_is_one_finished_execution(
    api: &flowmate_testkit::Api,
    token: &str,
    flow: &str,
    accepted: &BTreeSet<String>,
) {
    assert!(!accepted.is_empty(), "the load got no 200 at all");
    eprintln!("checking {} accepted webhooks", accepted.len());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut missing: Vec<String> = accepted.iter().cloned().collect();
    while !missing.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for id in &missing {
            let r = api.get(&format!("/executions/{id}"), Some(token)).await;
            let done = r.status == 200 && r.body["data"]["status"] == "succeeded";
            if done {
                assert_eq!(r.body["data"]["flowId"], flow);
                assert_eq!(r.body["data"]["steps"].as_array().unwrap().len(), 2, "{}", r.body);
                assert_eq!(
                    r.body["data"]["steps"][1]["output"],
                    json!({"order": "ord-1", "total": 17})
                );
            } else {
                still.push(id.clone());
            }
        }
        missing = still;
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert!(
        missing.is_empty(),
        "{} accepted webhooks never finished, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let r = api
        .get(
            &format!("/executions?filter[flowId]={flow}&filter[status]=failed"),
            Some(token),
        )
        .await;
    assert_eq!(r.body["meta"]["total"], 0, "no execution failed: {}", r.body);
}

pub(crate) async fn login(api: &flowmate_testkit::Api) -> String {
    api.login(cluster::ADMIN, cluster::PASSWORD).await
}

pub(crate) async fn start_flow(api: &flowmate_testkit::Api, token: &str) -> String {
    let r = api.post("/flows", Some(token), &order_flow()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    api.post(&format!("/flows/{id}/start"), Some(token), &json!({}))
        .await;
    for _ in 0..600 {
        if api.get(&format!("/flows/{id}"), Some(token)).await.body["data"]["status"] == "active"
            && api
                .post(&format!("/hook/{id}"), None, &json!({"warm": true}))
                .await
                .status
                == 200
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("flow never became active and callable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_kill_9_under_load_loses_no_accepted_webhook() {
    let _alone = ONE_AT_A_TIME.lock().await;
    flowmate_testkit::init_tracing();
    let dir = flowmate_testkit::TempDir::new().unwrap();
    let mut node = Process::standalone(dir.path());
    node.start().await;
    let api = flowmate_testkit::Api::new(node.base());
    let token = login(&api).await;
    let flow = start_flow(&api, &token).await;

    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = Arc::new(Mutex::new(node.base()));
    let clients = load(base.clone(), flow.clone(), 16, accepted.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.kill();
    let at_kill = accepted.lock().unwrap().len();
    node.start().await; // same data directory, same port
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        at_kill > 0 && accepted.len() > at_kill,
        "load before ({at_kill}) and after the restart ({})",
        accepted.len()
    );
    let token = login(&api).await;
    every_accepted_request_is_one_finished_execution(&api, &token, &flow, &accepted).await;
    node.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_journey_survives_killing_the_webhook_and_execution_services() {
    let _alone = ONE_AT_A_TIME.lock().await;
    flowmate_testkit::init_tracing();
    let Some(mut cluster) = Cluster::create().await else {
        return;
    };
    cluster.start_all().await;
    let api = flowmate_testkit::Api::new(cluster.base());

    // The journey: login → create a flow → start → webhook → the execution with its steps → stop.
    let token = login(&api).await;
    let flow = start_flow(&api, &token).await;
    let r = api
        .post(
            &format!("/hook/{flow}"),
            None,
            &serde_json::from_str::<Value>(ORDER).unwrap(),
        )
        .await;
    assert_eq!(r.status, 200);
    let first = r.body["data"]["requestId"].as_str().unwrap().to_owned();

    let accepted = Arc::new(Mutex::new(BTreeSet::from([first])));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = Arc::new(Mutex::new(cluster.base()));
    let clients = load(base, flow.clone(), 8, accepted.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill("webhook");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start("webhook").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill("execution");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start("execution").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    every_accepted_request_is_one_finished_execution(&api, &token, &flow, &accepted).await;

    let r = api
        .post(&format!("/flows/{flow}/stop"), Some(&token), &json!({}))
        .await;
    assert_eq!(r.status, 200);
    for _ in 0..200 {
        if api.get(&format!("/flows/{flow}"), Some(&token)).await.body["data"]["status"] == "inactive" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        api.get(&format!("/flows/{flow}"), Some(&token)).await.body["data"]["status"],
        "inactive"
    );
    // The webhook service closes the hook once it sees the stop (an event): 404 within 15 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = api
            .send(api.request(reqwest::Method::HEAD, &format!("/hook/{flow}"), None))
            .await
            .status;
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stopped flow's hook still answers {status} after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.post(&format!("/hook/{flow}"), None, &json!({})).await.status,
        404,
        "a stopped flow's hook stays closed"
    );
    cluster.destroy().await;
}
