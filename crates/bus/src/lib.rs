//! The event bus and work queues: one interface, two backends.
//!
//! - [`amqp::AmqpBus`]: RabbitMQ through lapin (topic exchange, durable queues, publisher confirms, manual ack,
//!   bounded prefetch, dead-letter after bounded redeliveries, reconnect with backoff). Distributed mode.
//! - [`embedded::EmbeddedBus`]: a durable queue in a SQLite file for standalone mode. A message whose publish
//!   returned `Ok` survives `kill -9`.
//!
//! Pub/sub and work queues are one mechanism: a *group* is a durable queue bound to routing-key patterns. Every
//! group bound to a key receives its own copy of each message (pub/sub); consumers of the same group compete
//! (work queue). Delivery is at least once; handlers are idempotent on [`Envelope::id`].

pub mod amqp;
mod consume;
pub mod embedded;
mod open;
mod pattern;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
pub use flowmate_domain::Envelope;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use open::open;
pub use pattern::matches as pattern_matches;

/// A failure of the bus itself.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker or the embedded store cannot be reached.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The broker did not confirm a publish (nacked or lost); the caller must treat it as not published.
    #[error("publish not confirmed: {0}")]
    NotConfirmed(String),
    /// A message that cannot be encoded or decoded.
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// What a handler reports for a message it could not process.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure: redeliver after a backoff; dead-letter once `max_attempts` is reached.
    #[error("retry: {0}")]
    Retry(String),
    /// The message can never succeed: dead-letter it at once.
    #[error("reject: {0}")]
    Reject(String),
}

/// One delivered message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event.
    pub envelope: Envelope,
    /// 1 for the first attempt, incremented on every retry.
    pub attempt: u32,
    /// The broker delivered it before (e.g. the previous consumer crashed without acking).
    pub redelivered: bool,
}

/// Processes deliveries. Returning `Ok` acks the message.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one message.
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError>;
}

/// How to consume a group.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// Durable queue name, e.g. `gateway.iam` or `execution.work`.
    pub group: String,
    /// Routing-key patterns (AMQP topic syntax: `*` one word, `#` zero or more words).
    pub patterns: Vec<String>,
    /// How many unacked messages one consumer may hold (bounded prefetch).
    pub prefetch: u16,
    /// Attempts before a failing message is dead-lettered to `<group>.dlq`.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt, capped at 30 s.
    pub retry_backoff: Duration,
    /// The group belongs to this consumer alone and disappears with it (RabbitMQ: an exclusive, auto-delete
    /// queue). For per-replica copies of events, e.g. every gateway replica applying every token revocation.
    pub exclusive: bool,
}

impl SubscribeOptions {
    /// Options with sensible defaults: prefetch 32, 5 attempts, 200 ms first backoff.
    pub fn new(group: impl Into<String>, patterns: &[&str]) -> Self {
        SubscribeOptions {
            group: group.into(),
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            prefetch: 32,
            max_attempts: 5,
            retry_backoff: Duration::from_millis(200),
            exclusive: false,
        }
    }
}

/// The bus every service talks to.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes durably with routing key `envelope.kind`. `Ok` only after the broker confirmed (embedded: committed).
    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError>;

    /// Publishes several messages; `Ok` only when every one is confirmed.
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Result<(), BusError>;

    /// Declares the durable queue `group` bound to `patterns`, so messages published from now on are kept even
    /// before any consumer runs. Idempotent. Publishers of work items declare their target queue at start-up.
    async fn declare(&self, group: &str, patterns: &[String]) -> Result<(), BusError>;

    /// Starts consuming `opts.group` (declaring it first) until `shutdown` is cancelled. In-flight messages are
    /// finished before the returned task ends.
    async fn subscribe(
        &self,
        opts: SubscribeOptions,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError>;

    /// Takes the dead-lettered messages of a group (for operators and tests); they are removed.
    async fn drain_dead_letters(&self, group: &str) -> Result<Vec<Envelope>, BusError>;

    /// Whether the broker or store is reachable now (readiness).
    async fn health(&self) -> Result<(), BusError>;

    /// Whether a message published now with `routing_key` would be kept anywhere. Only a bus that knows every
    /// binding can say no (the embedded queue); a broker's exchange may have consumers outside FlowMate, so the
    /// default is `true`. A publisher may skip an event nobody would receive now: the bus would drop it anyway (a
    /// publisher that publishes later, through an outbox, asks when it writes the event).
    fn routes(&self, routing_key: &str) -> bool {
        let _ = routing_key;
        true
    }
}

/// A shared bus handle.
pub type SharedBus = Arc<dyn Bus>;
