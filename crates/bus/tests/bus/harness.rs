//! Runs one scenario against one backend: a fresh bus with its own data, bounded in time, cleaned up afterwards.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use flowmate_bus::{amqp::AmqpBus, embedded::EmbeddedBus, Bus, Envelope, Handler, SubscribeOptions};
use lapin::{
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
    Connection, ConnectionProperties,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest a whole scenario may take before it fails.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest a test waits for a condition that should become true.
pub const WAIT: Duration = Duration::from_secs(30);

/// The backend a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Embedded,
    RabbitMq,
}

/// A bus with data only this test sees, and the subscriptions it started.
pub struct TestBus {
    pub bus: Arc<dyn Bus>,
    prefix: String,
    groups: Mutex<Vec<String>>,
    subscriptions: Mutex<Vec<JoinHandle<()>>>,
    stop: CancellationToken,
}

impl TestBus {
    /// A group name unique to this test (cleaned up at the end on RabbitMQ).
    pub fn group(&self, name: &str) -> String {
        let group = format!("{}.{name}", self.prefix);
        self.groups.lock().unwrap().push(group.clone());
        group
    }

    /// Subscribes; the subscription is stopped and awaited when the scenario ends.
    pub async fn subscribe(&self, opts: SubscribeOptions, handler: Arc<dyn Handler>) {
        let handle = self
            .bus
            .subscribe(opts, handler, self.stop.child_token())
            .await
            .unwrap();
        self.subscriptions.lock().unwrap().push(handle);
    }
}

/// The RabbitMQ URL, or `None` (with a note) when RabbitMQ tests are skipped. Panics when `CI=true`: CI must
/// run them.
pub fn amqp_url() -> Option<String> {
    match std::env::var("TEST_AMQP_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but TEST_AMQP_URL is not set: the RabbitMQ bus tests must run in CI")
        }
        _ => {
            eprintln!("note: TEST_AMQP_URL is not set; skipping this RabbitMQ bus test");
            None
        }
    }
}

/// A name unique to one test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

/// An event of type `kind` with a distinct payload.
pub fn event(kind: &str, n: usize) -> Envelope {
    Envelope::new(kind, "flowmate/bus-test", serde_json::json!({ "n": n }))
}

/// Runs `scenario` on `backend`, then stops its subscriptions and deletes what it created.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Arc<TestBus>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let bus = EmbeddedBus::open(&dir.path().join("bus.db")).await.unwrap();
            let test = new_test_bus(Arc::new(bus), unique("test"));
            let outcome = run_bounded(test.clone(), scenario).await;
            stop_subscriptions(&test).await;
            finish(outcome);
        }
        Backend::RabbitMq => {
            let Some(url) = amqp_url() else {
                return;
            };
            run_rabbitmq(&url, &url, scenario).await;
        }
    }
}

/// Runs `scenario` on a RabbitMQ bus connected through `connect_url` (a proxy, say) to the broker at `url`.
pub async fn run_rabbitmq<F, Fut>(url: &str, connect_url: &str, scenario: F)
where
    F: FnOnce(Arc<TestBus>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let exchange = unique("flowmate.test");
    let bus = Arc::new(AmqpBus::connect(connect_url, &exchange).await.unwrap());
    let test = new_test_bus(bus.clone(), exchange.clone());
    let outcome = run_bounded(test.clone(), scenario).await;
    stop_subscriptions(&test).await;
    bus.close().await;
    let groups = test.groups.lock().unwrap().clone();
    delete_rabbitmq_objects(url, &exchange, &groups).await;
    finish(outcome);
}

fn new_test_bus(bus: Arc<dyn Bus>, prefix: String) -> Arc<TestBus> {
    Arc::new(TestBus {
        bus,
        prefix,
        groups: Mutex::new(Vec::new()),
        subscriptions: Mutex::new(Vec::new()),
        stop: CancellationToken::new(),
    })
}

/// The scenario's result: `Err` with the panic or timeout, kept until clean-up ran.
async fn run_bounded<F, Fut>(test: Arc<TestBus>, scenario: F) -> Result<(), String>
where
    F: FnOnce(Arc<TestBus>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let task = tokio::spawn(scenario(test));
    let abort = task.abort_handle();
    match tokio::time::timeout(SCENARIO_TIMEOUT, task).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.is_panic() => {
            let panic = error.into_panic();
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".to_owned());
            Err(message)
        }
        Ok(Err(error)) => Err(format!("scenario task failed: {error}")),
        Err(_) => {
            abort.abort();
            Err(format!("scenario did not finish within {SCENARIO_TIMEOUT:?}"))
        }
    }
}

async fn stop_subscriptions(test: &TestBus) {
    test.stop.cancel();
    let handles = std::mem::take(&mut *test.subscriptions.lock().unwrap());
    for handle in handles {
        tokio::time::timeout(WAIT, handle)
            .await
            .expect("a subscription did not stop in time")
            .expect("a subscription task failed");
    }
}

fn finish(outcome: Result<(), String>) {
    if let Err(message) = outcome {
        panic!("{message}");
    }
}

/// Deletes the queues (and their dead-letter queues) and the exchange a RabbitMQ test created.
pub async fn delete_rabbitmq_objects(url: &str, exchange: &str, groups: &[String]) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    for group in groups {
        let group = flowmate_bus::amqp::queue_name(exchange, group);
        for queue in [group.clone(), format!("{group}.dlq")] {
            channel
                .queue_delete(&queue, QueueDeleteOptions::default())
                .await
                .unwrap();
        }
    }
    channel
        .exchange_delete(exchange, ExchangeDeleteOptions::default())
        .await
        .unwrap();
    connection.close(200, "test clean-up done").await.unwrap();
}

/// Waits until `condition` holds, polling; panics with `what` after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
