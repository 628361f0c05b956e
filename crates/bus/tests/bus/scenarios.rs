//! The behaviour every backend must show, one async fn per scenario; `main.rs` runs each on every backend.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Envelope, Handler, HandlerError, SubscribeOptions};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    harness::{event, wait_until, TestBus, WAIT},
    recorder::{distinct_ids, ids, ids_of, Recorder},
};

fn opts(group: &str, patterns: &[&str]) -> SubscribeOptions {
    SubscribeOptions {
        retry_backoff: Duration::from_millis(20),
        ..SubscribeOptions::new(group, patterns)
    }
}

/// Drains dead letters until `n` arrived (they are moved after the handler returns).
async fn wait_dead_letters(t: &TestBus, group: &str, n: usize) -> Vec<Envelope> {
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while dead.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} dead letters, got {}",
            dead.len()
        );
        dead.extend(t.bus.drain_dead_letters(group).await.unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    dead
}

pub async fn fan_out_delivers_every_message_to_each_bound_group(t: Arc<TestBus>) {
    let (audit, mail, billing) = (t.group("audit"), t.group("mail"), t.group("billing"));
    let (to_audit, to_mail, to_billing) = (Recorder::ok(), Recorder::ok(), Recorder::ok());
    t.subscribe(opts(&audit, &["order.*"]), to_audit.clone()).await;
    t.subscribe(opts(&mail, &["order.#"]), to_mail.clone()).await;
    t.subscribe(opts(&billing, &["invoice.#"]), to_billing.clone())
        .await;

    let mut orders: Vec<Envelope> = (0..5).map(|n| event("order.created", n)).collect();
    orders[0].traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned());
    orders[1].tenant = Some("acme".to_owned());
    for order in &orders {
        t.bus.publish(order).await.unwrap();
    }
    let invoice = event("invoice.paid", 99);
    t.bus.publish(&invoice).await.unwrap();

    for recorder in [&to_audit, &to_mail] {
        let mut got: Vec<Envelope> = recorder
            .wait_finished(5)
            .await
            .into_iter()
            .map(|d| d.envelope)
            .collect();
        got.sort_by(|a, b| a.id.cmp(&b.id));
        let mut sent = orders.clone();
        sent.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, sent, "each group gets every order, unchanged");
    }
    let billed = to_billing.wait_finished(1).await;
    assert_eq!(ids_of(&billed), ids(std::slice::from_ref(&invoice)));
    assert_eq!(
        to_audit.seen().len(),
        5,
        "the invoice does not reach the order groups"
    );
    assert_eq!(to_mail.seen().len(), 5);
}

/// One of two competing consumers: holds each job it is handed until both have been handed one, then lets its
/// recorder handle it. A consumer holds at most `prefetch` jobs, so however late the other registers (RabbitMQ
/// registers consumers in the background), the first cannot drain the queue alone meanwhile.
struct UntilBothStarted {
    recorder: Arc<Recorder>,
    /// 0 or 1: which of the two consumers this is.
    me: usize,
    /// Which consumers have been handed a job.
    handed: Arc<watch::Sender<[bool; 2]>>,
}

#[async_trait]
impl Handler for UntilBothStarted {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        self.handed.send_modify(|handed| handed[self.me] = true);
        let mut both = self.handed.subscribe();
        // Past WAIT the job goes on anyway, and "both consumers got work" below reports the consumer that got none.
        let _ = tokio::time::timeout(WAIT, both.wait_for(|handed| handed[0] && handed[1])).await;
        self.recorder.handle(delivery).await
    }
}

pub async fn competing_consumers_of_one_group_handle_each_message_once(t: Arc<TestBus>) {
    let work = t.group("work");
    let (first, second) = (
        Recorder::with(Duration::from_millis(5), |_| Ok(())),
        Recorder::with(Duration::from_millis(5), |_| Ok(())),
    );
    let options = SubscribeOptions {
        prefetch: 4,
        ..opts(&work, &["job.run"])
    };
    let handed = Arc::new(watch::Sender::new([false; 2]));
    for (me, recorder) in [&first, &second].into_iter().enumerate() {
        let consumer = UntilBothStarted {
            recorder: recorder.clone(),
            me,
            handed: handed.clone(),
        };
        t.subscribe(options.clone(), Arc::new(consumer)).await;
    }

    let jobs: Vec<Envelope> = (0..40).map(|n| event("job.run", n)).collect();
    for job in &jobs {
        t.bus.publish(job).await.unwrap();
    }
    wait_until("every job was handled", || async {
        first.finished() + second.finished() >= jobs.len()
    })
    .await;

    let all: Vec<_> = first.seen().into_iter().chain(second.seen()).collect();
    assert_eq!(all.len(), jobs.len(), "no job is handled twice");
    assert_eq!(distinct_ids(&all).into_iter().collect::<Vec<_>>(), ids(&jobs));
    assert!(
        !first.seen().is_empty() && !second.seen().is_empty(),
        "both consumers got work"
    );
}

pub async fn messages_published_after_declare_wait_for_the_first_consumer(t: Arc<TestBus>) {
    let work = t.group("work");
    t.bus.declare(&work, &["report.render".to_owned()]).await.unwrap();
    t.bus.declare(&work, &["report.render".to_owned()]).await.unwrap();
    let reports: Vec<Envelope> = (0..5).map(|n| event("report.render", n)).collect();
    t.bus.publish_batch(&reports).await.unwrap();

    let recorder = Recorder::ok();
    t.subscribe(opts(&work, &["report.render"]), recorder.clone())
        .await;
    let got = recorder.wait_finished(5).await;
    assert_eq!(ids_of(&got), ids(&reports));
    assert!(got.iter().all(|d| d.attempt == 1 && !d.redelivered));
}

pub async fn a_batch_publish_delivers_every_message(t: Arc<TestBus>) {
    let work = t.group("work");
    let recorder = Recorder::ok();
    t.subscribe(opts(&work, &["batch.*"]), recorder.clone()).await;
    t.bus.publish_batch(&[]).await.unwrap();
    let batch: Vec<Envelope> = (0..25).map(|n| event("batch.item", n)).collect();
    t.bus.publish_batch(&batch).await.unwrap();
    let got = recorder.wait_finished(batch.len()).await;
    assert_eq!(ids_of(&got), ids(&batch));
}

pub async fn a_failing_message_is_retried_with_increasing_attempts_until_it_succeeds(t: Arc<TestBus>) {
    let work = t.group("work");
    let recorder = Recorder::with(Duration::ZERO, |d| {
        if d.attempt < 3 {
            Err(HandlerError::Retry("downstream busy".into()))
        } else {
            Ok(())
        }
    });
    t.subscribe(opts(&work, &["mail.send"]), recorder.clone()).await;
    let mail = event("mail.send", 1);
    t.bus.publish(&mail).await.unwrap();

    let got = recorder.wait_finished(3).await;
    assert_eq!(recorder.attempts(), vec![1, 2, 3]);
    assert!(
        got.iter().all(|d| d.envelope == mail),
        "every attempt carries the same event"
    );
    assert!(t.bus.drain_dead_letters(&work).await.unwrap().is_empty());
    assert_eq!(recorder.seen().len(), 3, "no attempt after the success");
}

pub async fn a_message_failing_every_attempt_is_dead_lettered_after_max_attempts(t: Arc<TestBus>) {
    let work = t.group("work");
    let recorder = Recorder::with(Duration::ZERO, |_| {
        Err(HandlerError::Retry("still broken".into()))
    });
    let options = SubscribeOptions {
        max_attempts: 3,
        retry_backoff: Duration::from_millis(10),
        ..opts(&work, &["mail.send"])
    };
    t.subscribe(options, recorder.clone()).await;
    let mail = event("mail.send", 1);
    t.bus.publish(&mail).await.unwrap();

    recorder.wait_finished(3).await;
    let dead = wait_dead_letters(&t, &work, 1).await;
    assert_eq!(dead, vec![mail]);
    assert_eq!(
        recorder.attempts(),
        vec![1, 2, 3],
        "no attempt after the last one"
    );
}

pub async fn a_rejected_message_is_dead_lettered_without_retries(t: Arc<TestBus>) {
    let work = t.group("work");
    let recorder = Recorder::with(Duration::ZERO, |d| {
        if d.envelope.kind == "mail.bounce" {
            Err(HandlerError::Reject("unknown recipient".into()))
        } else {
            Ok(())
        }
    });
    t.subscribe(opts(&work, &["mail.*"]), recorder.clone()).await;
    let bad = event("mail.bounce", 1);
    let good = event("mail.send", 2);
    t.bus.publish(&bad).await.unwrap();
    t.bus.publish(&good).await.unwrap();

    recorder.wait_finished(2).await;
    let dead = wait_dead_letters(&t, &work, 1).await;
    assert_eq!(dead, vec![bad.clone()]);
    let bad_calls: Vec<u32> = recorder
        .seen()
        .iter()
        .filter(|d| d.envelope.id == bad.id)
        .map(|d| d.attempt)
        .collect();
    assert_eq!(bad_calls, vec![1], "a rejected message is not retried");
    assert!(
        t.bus.drain_dead_letters(&work).await.unwrap().is_empty(),
        "draining removes them"
    );
}

pub async fn concurrent_handler_calls_never_exceed_prefetch(t: Arc<TestBus>) {
    let work = t.group("work");
    t.bus.declare(&work, &["image.resize".to_owned()]).await.unwrap();
    let images: Vec<Envelope> = (0..24).map(|n| event("image.resize", n)).collect();
    t.bus.publish_batch(&images).await.unwrap();

    let recorder = Recorder::with(Duration::from_millis(30), |_| Ok(()));
    let options = SubscribeOptions {
        prefetch: 3,
        ..opts(&work, &["image.resize"])
    };
    t.subscribe(options, recorder.clone()).await;
    let got = recorder.wait_finished(images.len()).await;
    assert_eq!(ids_of(&got), ids(&images));
    assert_eq!(
        recorder.max_running(),
        3,
        "a backlog runs exactly prefetch handlers at once"
    );
}

pub async fn shutdown_waits_for_in_flight_handlers_to_finish(t: Arc<TestBus>) {
    let work = t.group("work");
    let slow = Recorder::with(Duration::from_millis(300), |_| Ok(()));
    let stop = CancellationToken::new();
    let consumer = t
        .bus
        .subscribe(opts(&work, &["video.encode"]), slow.clone(), stop.clone())
        .await
        .unwrap();
    let video = event("video.encode", 1);
    t.bus.publish(&video).await.unwrap();
    slow.wait_started(1).await;

    stop.cancel();
    tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
    assert_eq!(
        slow.finished(),
        1,
        "the handler in flight finished before the consumer returned"
    );

    // It was acked: a new consumer gets only what comes next.
    let next = Recorder::ok();
    t.subscribe(opts(&work, &["video.encode"]), next.clone()).await;
    let fence = event("video.encode", 2);
    t.bus.publish(&fence).await.unwrap();
    let got = next.wait_finished(1).await;
    assert_eq!(ids_of(&got), ids(std::slice::from_ref(&fence)));
}

pub async fn two_thousand_concurrent_publishes_are_all_delivered(t: Arc<TestBus>) {
    let work = t.group("work");
    t.bus.declare(&work, &["load.#".to_owned()]).await.unwrap();
    let events: Vec<Envelope> = (0..2000).map(|n| event("load.test", n)).collect();
    let mut publishes = JoinSet::new();
    for envelope in events.clone() {
        let bus = t.bus.clone();
        publishes.spawn(async move { bus.publish(&envelope).await });
    }
    while let Some(published) = publishes.join_next().await {
        published.unwrap().unwrap();
    }

    let recorder = Recorder::ok();
    let options = SubscribeOptions {
        prefetch: 64,
        ..opts(&work, &["load.#"])
    };
    t.subscribe(options, recorder.clone()).await;
    let got = recorder.wait_finished(events.len()).await;
    assert_eq!(got.len(), events.len());
    assert_eq!(distinct_ids(&got).into_iter().collect::<Vec<_>>(), ids(&events));
}

pub async fn health_is_ok_while_the_backend_is_reachable(t: Arc<TestBus>) {
    t.bus.health().await.unwrap();
    let work = t.group("work");
    t.bus.declare(&work, &["#".to_owned()]).await.unwrap();
    t.bus.publish(&event("any.thing", 1)).await.unwrap();
    t.bus.health().await.unwrap();
}

pub async fn exclusive_groups_each_receive_every_message(t: Arc<TestBus>) {
    let (a, b) = (t.group("replica-a"), t.group("replica-b"));
    let (to_a, to_b) = (Recorder::ok(), Recorder::ok());
    t.subscribe(
        SubscribeOptions {
            exclusive: true,
            ..opts(&a, &["token.revoked"])
        },
        to_a.clone(),
    )
    .await;
    t.subscribe(
        SubscribeOptions {
            exclusive: true,
            ..opts(&b, &["token.revoked"])
        },
        to_b.clone(),
    )
    .await;
    let sent: Vec<Envelope> = (0..10).map(|n| event("token.revoked", n)).collect();
    t.bus.publish_batch(&sent).await.unwrap();
    for recorder in [&to_a, &to_b] {
        let got = recorder.wait_finished(sent.len()).await;
        assert_eq!(distinct_ids(&got).len(), sent.len());
    }
}
