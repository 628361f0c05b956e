//! `/readyz` answers within 500 ms whatever is unreachable, with a 503 naming what is missing: PostgreSQL cut (every
//! connection closed) or black-holed (connections held in silence, the case where a pool would wait) through a
//! proxy owned by the test. A service as every other one needs its database and the bus; the webhook service's
//! readiness needs either (it spools triggers to its database while the broker is down).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use flowmate_bus::SharedBus;
use flowmate_runtime::ServiceHost;
use flowmate_testkit::{PgDatabase, RecordingBus, TcpProxy};
use flowmate_webhook::MIGRATIONS;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// `host:port` of a PostgreSQL URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host).to_owned()
}

async fn serve(
    name: &'static str,
    db_url: &str,
    bus: SharedBus,
    either: bool,
    stop: &CancellationToken,
) -> String {
    let mut host = ServiceHost::new(name, bus, stop.clone());
    host.open_store(db_url, 2, MIGRATIONS).await.unwrap();
    if either {
        host.ready_with_either("bus or database", "bus", "database");
    }
    let running = host
        .serve("127.0.0.1:0".parse().unwrap(), axum::Router::new())
        .await
        .unwrap();
    format!("http://{}/readyz", running.addr)
}

/// Asks `/readyz`; the status, the reason, and how long the answer took.
async fn ready(url: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    let reason = body["reason"].as_str().unwrap_or_default().to_owned();
    (status, reason, started.elapsed())
}

async fn unready_at_once(url: &str, names: &[&str]) {
    for _ in 0..3 {
        let (status, reason, took) = ready(url).await;
        assert_eq!(status, 503, "{reason}");
        assert!(took < Duration::from_millis(500), "/readyz took {took:?}");
        for name in names {
            assert!(reason.contains(name), "{reason} names {name}");
        }
    }
}

async fn ready_again(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, reason, took) = ready(url).await;
        assert!(took < Duration::from_millis(500), "/readyz took {took:?}");
        if status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "not ready again within 10 s: {reason}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_within_500_ms_naming_what_is_missing_when_postgres_is_unreachable() {
    flowmate_testkit::init_tracing();
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let target = authority(&pg.url);
    let proxy = TcpProxy::start(&target).await;
    let proxied = pg.url.replacen(&target, &proxy.addr(), 1);
    let bus = Arc::new(RecordingBus::default());
    let stop = CancellationToken::new();
    let strict = serve("strict", &proxied, bus.clone(), false, &stop).await;
    let webhook = serve("webhook", &proxied, bus.clone(), true, &stop).await;
    assert_eq!(ready(&strict).await.0, 200);
    assert_eq!(ready(&webhook).await.0, 200);

    // PostgreSQL stopped: connections closed, new ones refused.
    proxy.cut();
    unready_at_once(&strict, &["database"]).await;
    assert_eq!(ready(&webhook).await.0, 200, "the broker is enough for webhooks");
    bus.set_down(true);
    unready_at_once(&webhook, &["bus", "database"]).await;
    bus.set_down(false);
    proxy.restore();
    ready_again(&strict).await;
    ready_again(&webhook).await;

    // PostgreSQL's host gone: every connection hangs.
    proxy.black_hole();
    unready_at_once(&strict, &["database"]).await;
    bus.set_down(true);
    unready_at_once(&webhook, &["bus", "database"]).await;

    drop(proxy);
    stop.cancel();
    pg.drop_database().await;
}
