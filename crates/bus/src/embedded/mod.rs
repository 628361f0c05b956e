//! Embedded backend: a durable queue in its own SQLite file, for standalone mode (one process owns the file).
//!
//! Every write (publish, claim, ack, retry, dead-letter) goes through one writer task that commits whatever is
//! pending in a single transaction (group commit), so thousands of publishes per second cost a handful of
//! fsyncs. Consumers claim rows of their group, run the handler and settle the row through the same writer.

mod bus;
mod consumer;
mod store;
mod writer;

pub use bus::EmbeddedBus;
