//! RabbitMQ-only behaviour: failing fast without a broker and reconnecting after an outage.

use std::sync::Arc;

use flowmate_bus::{amqp::AmqpBus, BusError, SubscribeOptions};
use lapin::uri::AMQPUri;

use crate::{
    harness::{amqp_url, event, run_rabbitmq, wait_until, TestBus, WAIT},
    proxy::Proxy,
    recorder::{distinct_ids, ids, Recorder},
};

#[tokio::test]
async fn rabbitmq_connect_fails_fast_when_no_broker_listens() {
    // A port that is bound but not listening: connecting is refused, and as long as `reserved` lives the OS cannot
    // hand the port to anything else (a released port could go to a concurrent test's proxy, which does listen).
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let connecting = AmqpBus::connect(&url, "flowmate.test.nobody");
    let result = tokio::time::timeout(WAIT, connecting)
        .await
        .expect("connect must not hang");
    assert!(matches!(result, Err(BusError::Unavailable(_))), "{result:?}");
    drop(reserved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_publishes_fail_fast_during_an_outage_and_consumers_resume_after_reconnecting() {
    let Some(url) = amqp_url() else {
        return;
    };
    let uri: AMQPUri = url.parse().unwrap();
    let proxy = Arc::new(Proxy::start(format!("{}:{}", uri.authority.host, uri.authority.port)).await);
    let proxied = format!(
        "amqp://{}:{}@127.0.0.1:{}/{}",
        uri.authority.userinfo.username,
        uri.authority.userinfo.password,
        proxy.port,
        uri.vhost.replace('%', "%25").replace('/', "%2f"),
    );
    run_rabbitmq(&url, &proxied, move |t| outage(t, proxy)).await;
}

async fn outage(t: Arc<TestBus>, proxy: Arc<Proxy>) {
    let work = t.group("work");
    let recorder = Recorder::ok();
    t.subscribe(SubscribeOptions::new(&work, &["ping.#"]), recorder.clone())
        .await;
    let before = event("ping.sent", 1);
    t.bus.publish(&before).await.unwrap();
    recorder.wait_finished(1).await;

    proxy.cut();
    wait_until("the bus reports the outage", || async {
        t.bus.health().await.is_err()
    })
    .await;
    let lost = event("ping.sent", 2);
    let publishing = t.bus.publish(&lost);
    let during = tokio::time::timeout(WAIT, publishing)
        .await
        .expect("a publish during an outage must not hang");
    assert!(matches!(during, Err(BusError::Unavailable(_))), "{during:?}");

    proxy.restore();
    wait_until("the bus reconnects", || async { t.bus.health().await.is_ok() }).await;
    let after = event("ping.sent", 3);
    t.bus.publish(&after).await.unwrap();
    wait_until("the message published after the outage arrives", || async {
        recorder.seen().iter().any(|d| d.envelope.id == after.id)
    })
    .await;
    let got = recorder.seen();
    let distinct: Vec<String> = distinct_ids(&got).into_iter().collect();
    assert_eq!(
        distinct,
        ids(&[before.clone(), after]),
        "the consumer resumed; the failed publish is not delivered"
    );
    // The cut may beat the ack of `before`: the broker then hands it out again, flagged as redelivered.
    let repeats: Vec<_> = got
        .iter()
        .filter(|d| d.envelope.id == before.id)
        .skip(1)
        .collect();
    assert!(
        repeats.iter().all(|d| d.redelivered),
        "a second delivery is flagged as redelivered"
    );
}
