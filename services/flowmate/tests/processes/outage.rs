//! A broker outage under webhook load, in distributed mode: the webhook service reaches RabbitMQ through a TCP proxy
//! owned by the test, which cuts it for 10 s (every connection closed, new ones refused — what a stopped broker
//! looks like to a client) and restores it; the other services keep their broker. Every webhook must get 200 (the
//! webhook service spools what the broker cannot confirm), and every 200 must end as exactly one execution.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{cluster::Cluster, every_accepted_request_is_one_finished_execution, login, start_flow, ORDER};

/// How long the broker stays unreachable.
const OUTAGE: Duration = Duration::from_secs(10);

/// What the load saw.
#[derive(Default)]
struct Seen {
    accepted: std::collections::BTreeSet<String>,
    /// Every answer but 200 (status or client error), with when it came.
    refused: Vec<String>,
}

/// `clients` clients each sending a webhook every 20 ms or so until `stop`.
fn paced_load(
    base: String,
    flow: &str,
    clients: usize,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|_| {
            let (url, seen, stop) = (format!("{base}/hook/{flow}"), seen.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(ORDER)
                        .send()
                        .await;
                    let id = match sent {
                        Ok(r) if r.status() == 200 => r
                            .json::<Value>()
                            .await
                            .map_err(|e| e.to_string())
                            .map(|body| body["data"]["requestId"].as_str().unwrap_or_default().to_owned()),
                        Ok(r) => Err(format!("status {}", r.status())),
                        Err(e) => Err(e.to_string()),
                    };
                    match id {
                        Ok(id) if !id.is_empty() => {
                            seen.lock().unwrap().accepted.insert(id);
                        }
                        Ok(_) => seen
                            .lock()
                            .unwrap()
                            .refused
                            .push("200 without a request id".into()),
                        Err(e) => seen.lock().unwrap().refused.push(e),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// `host:port` of a URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host).to_owned()
}

/// The sum of a counter's samples with `label` in a Prometheus text.
fn counter(metrics: &str, name: &str, label: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_broker_outage_under_load_refuses_loses_and_duplicates_no_webhook() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    flowmate_testkit::init_tracing();
    let Some(amqp) = flowmate_testkit::amqp_url() else {
        return;
    };
    let Some(mut cluster) = Cluster::create().await else {
        return;
    };
    let target = authority(&amqp);
    let proxy = flowmate_testkit::TcpProxy::start(&target).await;
    cluster.set_env(
        "webhook",
        "FLOWMATE_AMQP_URL",
        &amqp.replacen(&target, &proxy.addr(), 1),
    );
    cluster.start_all().await;
    let api = flowmate_testkit::Api::new(cluster.base());
    let token = login(&api).await;
    let flow = start_flow(&api, &token).await; // one warm-up webhook answered 200

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = paced_load(cluster.base(), &flow, 8, seen.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = seen.lock().unwrap().accepted.len();
    let cut_at = Instant::now();
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    let during = seen.lock().unwrap().accepted.len() - before;
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let load_time = cut_at.elapsed() + Duration::from_millis(1500);
    let Seen { accepted, refused } = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "{} accepted ({during} during the outage), {} refused",
        accepted.len(),
        refused.len()
    );
    assert!(
        refused.is_empty(),
        "0 refused: {} were, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert!(
        before > 0 && during > 100,
        "load before ({before}) and during ({during}) the outage"
    );

    // 0 lost: each 200 one succeeded execution with its two steps.
    every_accepted_request_is_one_finished_execution(&api, &token, &flow, &accepted).await;
    // 0 duplicated: no execution besides those and the warm-up's.
    let r = api
        .get(&format!("/executions?filter[flowId]={flow}"), Some(&token))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["meta"]["total"].as_u64(),
        Some(accepted.len() as u64 + 1),
        "executions of the flow: the accepted webhooks and the warm-up"
    );

    // The outage shows in the webhook service's metrics and, once a second at most, in its log.
    let metrics = reqwest::get(format!("{}/metrics", cluster.ops_url("webhook")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spooled = counter(&metrics, "flowmate_webhooks_total", r#"outcome="spooled""#);
    assert!(
        spooled >= during as f64,
        "spooled {spooled}, accepted during the outage {during}"
    );
    assert_eq!(
        counter(&metrics, "flowmate_webhooks_total", r#"outcome="unavailable""#),
        0.0
    );
    assert!(
        counter(&metrics, "flowmate_webhook_spool_published_total", "") >= spooled,
        "{metrics}"
    );
    let log = cluster.log("webhook");
    let spool_lines = log
        .lines()
        .filter(|l| l.contains("accepted into the spool"))
        .count();
    assert!(spool_lines > 0, "the outage is logged");
    assert!(
        spool_lines as u64 <= load_time.as_secs() + 2,
        "{spool_lines} spool lines in {load_time:?}: at most one a second"
    );
    assert!(!log.contains("webhooks not accepted"), "nothing refused");
    cluster.destroy().await;
}
