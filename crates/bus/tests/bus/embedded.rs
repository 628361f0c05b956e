//! Embedded-only behaviour: the queue file keeps messages across a restart and a crash.

use std::{path::Path, sync::Arc, time::Duration};

use flowmate_bus::{embedded::EmbeddedBus, Bus, BusError, Envelope, SubscribeOptions};
use tokio_util::sync::CancellationToken;

use crate::{
    harness::{event, WAIT},
    recorder::{ids, ids_of, Recorder},
};

const GROUP: &str = "billing.work";

/// Reopens the file, consumes `n` messages and stops the consumer.
async fn consume_after_reopening(path: &Path, n: usize) -> Vec<flowmate_bus::Delivery> {
    let bus = EmbeddedBus::open(path).await.unwrap();
    let recorder = Recorder::ok();
    let stop = CancellationToken::new();
    let consumer = bus
        .subscribe(
            SubscribeOptions::new(GROUP, &["invoice.#"]),
            recorder.clone(),
            stop.clone(),
        )
        .await
        .unwrap();
    let got = recorder.wait_finished(n).await;
    stop.cancel();
    tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
    assert_eq!(recorder.seen().len(), n, "nothing is delivered twice");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_messages_published_before_a_restart_are_delivered_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("bus.db");
    let invoices: Vec<Envelope> = (0..20).map(|n| event("invoice.issued", n)).collect();
    {
        let bus = EmbeddedBus::open(&path).await.unwrap();
        bus.declare(GROUP, &["invoice.#".to_owned()]).await.unwrap();
        bus.publish_batch(&invoices[..10]).await.unwrap();
        for invoice in &invoices[10..19] {
            bus.publish(invoice).await.unwrap();
        }
    }
    {
        // The binding itself survived: no declare before this publish.
        let bus = EmbeddedBus::open(&path).await.unwrap();
        bus.publish(&invoices[19]).await.unwrap();
    }

    let got = consume_after_reopening(&path, invoices.len()).await;
    assert_eq!(ids_of(&got), ids(&invoices));
    assert!(got.iter().all(|d| d.attempt == 1 && !d.redelivered));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_message_in_flight_when_the_process_dies_is_redelivered_with_the_flag_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    let invoices: Vec<Envelope> = (0..5).map(|n| event("invoice.issued", n)).collect();

    // The "process": its own runtime, torn down while a handler is stuck, so nothing gets to settle.
    let crashed_path = path.clone();
    let sent = invoices.clone();
    let in_flight = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let in_flight = runtime.block_on(async {
            let bus = EmbeddedBus::open(&crashed_path).await.unwrap();
            bus.declare(GROUP, &["invoice.#".to_owned()]).await.unwrap();
            bus.publish_batch(&sent).await.unwrap();
            let stuck = Recorder::with(Duration::from_secs(3600), |_| Ok(()));
            let options = SubscribeOptions {
                prefetch: 1,
                ..SubscribeOptions::new(GROUP, &["invoice.#"])
            };
            let _consumer = bus
                .subscribe(options, stuck.clone(), CancellationToken::new())
                .await
                .unwrap();
            stuck.wait_started(1).await;
            stuck.seen()[0].envelope.id.clone()
        });
        runtime.shutdown_timeout(Duration::from_secs(5));
        in_flight
    })
    .await
    .unwrap();

    let got = consume_after_reopening(&path, invoices.len()).await;
    assert_eq!(
        ids_of(&got),
        ids(&invoices),
        "all messages are delivered after the crash"
    );
    for delivery in &got {
        let expected = delivery.envelope.id == in_flight;
        assert_eq!(
            delivery.redelivered, expected,
            "only the message in flight is marked redelivered"
        );
        assert_eq!(delivery.attempt, 1, "a crash does not count as an attempt");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dead_letters_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    let poison = event("invoice.issued", 1);
    {
        let bus = Arc::new(EmbeddedBus::open(&path).await.unwrap());
        let rejecting = Recorder::with(Duration::ZERO, |_| {
            Err(flowmate_bus::HandlerError::Reject("malformed".into()))
        });
        let stop = CancellationToken::new();
        let consumer = bus
            .subscribe(
                SubscribeOptions::new(GROUP, &["invoice.#"]),
                rejecting.clone(),
                stop.clone(),
            )
            .await
            .unwrap();
        bus.publish(&poison).await.unwrap();
        rejecting.wait_finished(1).await;
        stop.cancel();
        tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
    }
    let bus = EmbeddedBus::open(&path).await.unwrap();
    assert_eq!(bus.drain_dead_letters(GROUP).await.unwrap(), vec![poison]);
    assert!(bus.drain_dead_letters(GROUP).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_second_bus_cannot_open_a_file_another_bus_owns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    drop(EmbeddedBus::open(&path).await.unwrap());
    // The file and its tables exist now, so this open writes nothing: opening alone must take the lock.
    let owner = EmbeddedBus::open(&path).await.unwrap();

    let intruder = EmbeddedBus::open(&path).await;
    assert!(matches!(intruder, Err(BusError::Unavailable(_))), "{intruder:?}");
    owner.health().await.unwrap();

    drop(owner);
    let next_owner = EmbeddedBus::open(&path).await.unwrap();
    next_owner.health().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_an_exclusive_group_is_forgotten_when_the_file_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    {
        let bus = EmbeddedBus::open(&path).await.unwrap();
        let stop = CancellationToken::new();
        let options = SubscribeOptions {
            exclusive: true,
            ..SubscribeOptions::new("replica.a", &["token.#"])
        };
        let consumer = bus
            .subscribe(options, Recorder::ok(), stop.clone())
            .await
            .unwrap();
        stop.cancel();
        tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
        // Published after the replica's consumer stopped: kept only while this process lives.
        bus.publish(&event("token.revoked", 1)).await.unwrap();
    }
    let bus = EmbeddedBus::open(&path).await.unwrap();
    bus.publish(&event("token.revoked", 2)).await.unwrap();
    let recorder = Recorder::ok();
    let stop = CancellationToken::new();
    // One message at a time, oldest first: anything that survived would be delivered before the sentinel.
    let options = SubscribeOptions {
        prefetch: 1,
        ..SubscribeOptions::new("replica.a", &["token.#"])
    };
    let consumer = bus
        .subscribe(options, recorder.clone(), stop.clone())
        .await
        .unwrap();
    let sentinel = event("token.revoked", 3);
    bus.publish(&sentinel).await.unwrap();
    let seen = recorder.wait_finished(1).await;
    stop.cancel();
    tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
    assert_eq!(
        ids_of(&seen),
        std::slice::from_ref(&sentinel.id),
        "neither the old binding nor its messages survived the restart"
    );
    assert_eq!(recorder.seen().len(), 1, "{:?}", ids_of(&recorder.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_key_routes_once_a_group_is_bound_to_it_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    {
        let bus = EmbeddedBus::open(&path).await.unwrap();
        assert!(!bus.routes("execution.finished"), "nothing is bound yet");
        bus.declare("audit", &["execution.*".to_owned()]).await.unwrap();
        assert!(bus.routes("execution.finished"));
        assert!(!bus.routes("flow.started"));
    }
    let bus = EmbeddedBus::open(&path).await.unwrap();
    assert!(
        bus.routes("execution.finished"),
        "a durable binding survives a reopen"
    );
    assert!(!bus.routes("flow.started"));
}
