//! [`EmbeddedBus`]: the [`Bus`] interface over the SQLite queue file.

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    consumer::Consumer,
    store,
    writer::{self, Done, Op, Outgoing, SharedBindings, Wakers, WriterHandle},
};
use crate::{consume::dead_letter_queue, Bus, BusError, Envelope, Handler, SubscribeOptions};

/// How long opening waits for the file to be released by a previous owner (e.g. a bus dropped a moment ago).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A durable queue in its own SQLite file.
///
/// One bus owns the file: the writer's connection holds an exclusive lock, so a second `open` of the same file
/// (in this process or another) fails with `Unavailable` instead of corrupting the queue's bookkeeping. Opening
/// releases every message a previous owner had claimed; it is redelivered with
/// [`Delivery::redelivered`](crate::Delivery::redelivered) set. `publish` returns `Ok` once the message is
/// committed (WAL, `synchronous=NORMAL`: it survives the process being killed, not a power loss).
#[derive(Debug)]
pub struct EmbeddedBus {
    writer: WriterHandle,
    wakers: Arc<Wakers>,
    bindings: SharedBindings,
}

impl EmbeddedBus {
    /// Opens the queue file at `path`, creating it and its directory if needed. Must run inside a Tokio runtime:
    /// it starts the writer task. Fails with `Unavailable` if another bus owns the file.
    pub async fn open(path: &Path) -> Result<EmbeddedBus, BusError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                BusError::Unavailable(format!("cannot create the directory of {}: {e}", path.display()))
            })?;
        }
        let file = path.to_owned();
        let opened = tokio::task::spawn_blocking(move || -> rusqlite::Result<_> {
            let conn = rusqlite::Connection::open(&file)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // The exclusive lock is taken by the first write (in `prepare`) and kept while the bus is open.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.set_prepared_statement_cache_capacity(32);
            let bindings = store::prepare(&conn)?;
            Ok((conn, bindings))
        })
        .await
        .map_err(|e| BusError::Unavailable(format!("opening the bus file failed: {e}")))?;
        let (conn, bindings) = opened.map_err(|e| {
            BusError::Unavailable(format!("cannot open the bus file {}: {e}", path.display()))
        })?;
        let wakers = Arc::new(Wakers::default());
        let shared = Arc::new(std::sync::RwLock::new(bindings.clone()));
        let writer = writer::spawn(conn, bindings, shared.clone(), wakers.clone())
            .map_err(|e| BusError::Unavailable(format!("cannot start the embedded bus writer: {e}")))?;
        tracing::info!(path = %path.display(), "embedded bus opened");
        Ok(EmbeddedBus {
            writer,
            wakers,
            bindings: shared,
        })
    }

    async fn enqueue(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        let messages = envelopes
            .iter()
            .map(|envelope| {
                let body = serde_json::to_string(envelope)
                    .map_err(|e| BusError::Invalid(format!("cannot encode event {}: {e}", envelope.id)))?;
                Ok(Outgoing {
                    kind: envelope.routing_key().into_owned(),
                    body,
                })
            })
            .collect::<Result<Vec<_>, BusError>>()?;
        self.writer.call(Op::Publish(messages)).await.map(|_| ())
    }
}

impl EmbeddedBus {
    async fn declare_group(&self, group: &str, patterns: &[String], ephemeral: bool) -> Result<(), BusError> {
        let op = Op::Declare {
            group: group.to_owned(),
            patterns: patterns.to_vec(),
            ephemeral,
        };
        self.writer.call(op).await.map(|_| ())
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError> {
        self.enqueue(std::slice::from_ref(envelope)).await
    }

    /// Commits the whole batch in one transaction: all or none.
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        self.enqueue(envelopes).await
    }

    /// Adds the bindings; patterns bound earlier stay bound.
    async fn declare(&self, group: &str, patterns: &[String]) -> Result<(), BusError> {
        self.declare_group(group, patterns, false).await
    }

    async fn subscribe(
        &self,
        opts: SubscribeOptions,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        self.declare_group(&opts.group, &opts.patterns, opts.exclusive)
            .await?;
        tracing::info!(group = %opts.group, prefetch = opts.prefetch, "embedded consumer started");
        let consumer = Consumer::new(
            self.writer.clone(),
            self.wakers.of(&opts.group),
            opts,
            handler,
            shutdown,
        );
        Ok(tokio::spawn(consumer.run()))
    }

    async fn drain_dead_letters(&self, group: &str) -> Result<Vec<Envelope>, BusError> {
        let op = Op::Drain {
            group: dead_letter_queue(group),
        };
        let Done::Drained(bodies) = self.writer.call(op).await? else {
            return Err(BusError::Unavailable(
                "embedded bus writer answered out of turn".to_owned(),
            ));
        };
        Ok(bodies
            .iter()
            .filter_map(|body| match serde_json::from_str(body) {
                Ok(envelope) => Some(envelope),
                Err(error) => {
                    tracing::warn!(group, %error, "dropping an undecodable dead letter");
                    None
                }
            })
            .collect())
    }

    /// A `SELECT 1` through the writer: the file is readable and the writer is keeping up.
    async fn health(&self) -> Result<(), BusError> {
        self.writer.call(Op::Ping).await.map(|_| ())
    }

    /// Whether a group is bound to the key (committed bindings: a publish after a `declare` returned sees it).
    fn routes(&self, routing_key: &str) -> bool {
        writer::routes(&self.bindings, routing_key)
    }
}
