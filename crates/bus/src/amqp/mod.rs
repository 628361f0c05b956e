//! RabbitMQ backend (lapin 2): a durable topic exchange, a durable queue per group, publisher confirms, manual
//! acks, bounded prefetch, retries as confirmed copies, dead letters in `<group>.dlq`, reconnect with backoff.
//!
//! lapin runs on its default executor and reactor (async-global-executor + async-io), not Tokio's: the
//! connection's I/O and its internal tasks then do not depend on the lifetime of whichever Tokio runtime opened
//! it (each `#[tokio::test]` has its own), it needs no extra crates, and its futures are executor-agnostic, so
//! awaiting them from Tokio tasks is fine. The cost is a few extra threads per process.

mod bus;
mod consumer;
mod link;
mod message;

pub use bus::{queue_name, AmqpBus};
