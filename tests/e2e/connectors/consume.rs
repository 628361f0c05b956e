//! `amqp.consume` through the API against the RabbitMQ of `TEST_AMQP_URL` (required in CI), in both modes: a
//! message published by one flow starts another; stopping the flow stops its consumer (the next message stays in
//! the queue); and across a restart of every service no message is lost or started twice (counted).

use std::time::Duration;

use flowmate_testkit::amqp_url;
use lapin::{
    options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
    BasicProperties, Channel, Connection,
};
use serde_json::{json, Value};

use super::{chain, run_hook, secret, step};
use crate::{
    harness::{App, Mode},
    support::started,
};

/// A queue of the test's own on the test broker, with a confirming channel.
struct Queue {
    name: String,
    conn: Connection,
    ch: Channel,
}

impl Queue {
    async fn new(url: &str) -> Queue {
        let conn = Connection::connect(url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let name = format!("fm.e2e.consume.{}", uuid::Uuid::new_v4().simple());
        ch.queue_declare(&name, QueueDeclareOptions::default(), FieldTable::default())
            .await
            .unwrap();
        Queue { name, conn, ch }
    }

    /// Publishes `body` to the queue (default exchange) with `message_id`, confirmed.
    async fn send(&self, body: &Value, message_id: &str) {
        self.send_raw(&serde_json::to_vec(body).unwrap(), message_id)
            .await;
    }

    /// Publishes the bytes `body` with `message_id`, confirmed.
    async fn send_raw(&self, body: &[u8], message_id: &str) {
        let props = BasicProperties::default().with_message_id(message_id.into());
        let confirm = self
            .ch
            .basic_publish("", &self.name, BasicPublishOptions::default(), body, props)
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }

    /// (ready messages, consumers) as the broker counts them.
    async fn counts(&self) -> (u32, u32) {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let q = self
            .ch
            .queue_declare(&self.name, passive, FieldTable::default())
            .await
            .unwrap();
        (q.message_count(), q.consumer_count())
    }

    /// Waits (30 s at most) until `done` holds for the counts.
    async fn wait(&self, what: &str, done: impl Fn((u32, u32)) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let c = self.counts().await;
            if done(c) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: queue {} is at {c:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn delete(self) {
        let _ = self
            .ch
            .queue_delete(&self.name, QueueDeleteOptions::default())
            .await;
        let _ = self.conn.close(200, "done").await;
    }
}

/// The executions of flow `fid` (up to 100), once there are `n` final ones (30 s at most).
async fn executions(app: &App, fid: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app
            .api
            .get(
                &format!("/executions?filter[flowId]={fid}&page[size]=100"),
                Some(&app.admin),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = r.body["data"].as_array().cloned().unwrap_or_default();
        let done = items.iter().filter(|e| e["status"] == "succeeded").count();
        if done >= n {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow {fid}: {done} of {n} executions: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn consumer_flow(queue: &str, broker: &str) -> Value {
    json!({"name": "consume orders", "graph": {"nodes": [
        {"id": "in", "componentId": "amqp", "function": "consume", "credentials_id": broker, "fields": {"queue": queue}},
        {"id": "seen", "componentId": "log", "function": "write", "fields": {}}],
        "edges": [{"source": "in", "target": "seen"}]}})
}

async fn a_message_published_by_one_flow_starts_another_and_stopping_stops_the_consumer(app: &App) {
    let Some(url) = amqp_url() else { return };
    let q = Queue::new(&url).await;
    let broker = secret(app, "broker", "MIXED", json!({"payload": {"url": url}})).await;
    let consumer = started(app, &app.admin, consumer_flow(&q.name, &broker)).await;
    q.wait("the consumer attaches", |(_, consumers)| consumers >= 1)
        .await;
    let publisher = chain(
        "announce",
        vec![
            json!({"id": "pub", "componentId": "amqp", "function": "publish", "credentials_id": broker,
                    "fields": {"exchange": "", "routingKey": q.name}}),
        ],
    );
    let e = run_hook(app, publisher, json!({"order": "ord-3", "total": 17})).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(step(&e, "pub")["output"]["confirmed"], true);
    let list = executions(app, &consumer, 1).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().unwrap();
    let run = app
        .api
        .get(&format!("/executions/{id}"), Some(&app.admin))
        .await
        .body["data"]
        .clone();
    assert_eq!(run["trigger"]["type"], "amqp", "{run}");
    assert_eq!(step(&run, "in")["output"], json!({"order": "ord-3", "total": 17}));
    assert_eq!(step(&run, "seen")["status"], "succeeded");

    // The same message-id twice starts the flow once; a body that is not JSON arrives as a string.
    q.send(&json!({"dup": 1}), "dup-1").await;
    q.send(&json!({"dup": 2}), "dup-1").await;
    q.send_raw(b"plain <text>", "text-1").await;
    let list = executions(app, &consumer, 3).await;
    let mut outputs = Vec::new();
    for e in &list {
        let id = e["id"].as_str().unwrap();
        let run = app
            .api
            .get(&format!("/executions/{id}"), Some(&app.admin))
            .await
            .body["data"]
            .clone();
        outputs.push(step(&run, "in")["output"].clone());
    }
    assert_eq!(list.len(), 3, "{outputs:?}");
    // One of the two (whichever the engine wrote first), never both.
    let dups = outputs.iter().filter(|o| o.get("dup").is_some()).count();
    assert_eq!(dups, 1, "{outputs:?}");
    assert!(outputs.contains(&json!("plain <text>")), "{outputs:?}");

    // Stopped: the consumer leaves the queue and the next message waits there.
    let r = app
        .api
        .post(&format!("/flows/{consumer}/stop"), Some(&app.admin), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    q.wait("the consumer leaves", |(_, consumers)| consumers == 0)
        .await;
    q.send(&json!({"late": true}), "late-1").await;
    q.wait("the message waits", |(ready, _)| ready == 1).await;
    assert_eq!(executions(app, &consumer, 3).await.len(), 3);
    q.delete().await;
}

/// 20 messages, a restart of every service while they are taken, 10 more: 30 executions, one per message.
async fn no_message_is_lost_or_started_twice_across_a_restart(app: &mut App) {
    let Some(url) = amqp_url() else { return };
    let q = Queue::new(&url).await;
    let broker = secret(app, "broker", "MIXED", json!({"payload": {"url": url}})).await;
    let consumer = started(app, &app.admin, consumer_flow(&q.name, &broker)).await;
    for i in 0..20 {
        q.send(&json!({"n": i}), &format!("m-{i}")).await;
    }
    app.restart().await;
    for i in 20..30 {
        q.send(&json!({"n": i}), &format!("m-{i}")).await;
    }
    q.wait("every message is taken", |(ready, consumers)| {
        ready == 0 && consumers >= 1
    })
    .await;
    let list = executions(app, &consumer, 30).await;
    assert_eq!(list.len(), 30, "{list:?}");
    let mut seen: Vec<i64> = Vec::new();
    for e in &list {
        let id = e["id"].as_str().unwrap();
        let run = app
            .api
            .get(&format!("/executions/{id}"), Some(&app.admin))
            .await
            .body["data"]
            .clone();
        seen.push(step(&run, "in")["output"]["n"].as_i64().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..30).collect::<Vec<i64>>());
    q.delete().await;
}

crate::connector_scenarios!(a_message_published_by_one_flow_starts_another_and_stopping_stops_the_consumer);

mod restart {
    use super::*;

    async fn run(mode: Mode) {
        let Some(mut app) = crate::harness::spawn(mode).await else {
            return;
        };
        no_message_is_lost_or_started_twice_across_a_restart(&mut app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn standalone_no_message_is_lost_or_started_twice_across_a_restart() {
        run(Mode::Standalone).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn distributed_no_message_is_lost_or_started_twice_across_a_restart() {
        run(Mode::Distributed).await;
    }
}
