//! [`AmqpBus`]: the [`Bus`] interface over RabbitMQ.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    consumer::Consumer,
    link::{self, close_channel, declare_group, Link, Outgoing, Shared, OPERATION_TIMEOUT},
    message::{encode, properties},
};
use crate::{consume::dead_letter_queue, Bus, BusError, Envelope, Handler, SubscribeOptions};

/// RabbitMQ through one topic exchange: a durable queue per group, publisher confirms, manual acks, bounded
/// prefetch, retries as confirmed copies, dead letters in `<group>.dlq`, reconnect with exponential backoff.
///
/// The connection lives as long as the bus handle or any consumer it started; [`AmqpBus::close`] ends it at once.
pub struct AmqpBus {
    shared: Arc<Shared>,
    stop: CancellationToken,
    keepalive: Arc<DropGuard>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpBus")
            .field("exchange", &self.shared.exchange)
            .field("connected", &self.shared.link().is_ok())
            .finish()
    }
}

impl AmqpBus {
    /// Connects to `url` (e.g. `amqp://user:pass@host:5672/%2f`) and declares the durable topic exchange
    /// `exchange`. Fails if the broker cannot be reached now; later outages are bridged by reconnecting.
    pub async fn connect(url: &str, exchange: &str) -> Result<AmqpBus, BusError> {
        let stop = CancellationToken::new();
        let (shared, supervisor) = link::start(url, exchange, stop.clone()).await?;
        tracing::info!(exchange, "rabbitmq bus connected");
        Ok(AmqpBus {
            shared,
            keepalive: Arc::new(stop.clone().drop_guard()),
            stop,
            supervisor: Mutex::new(Some(supervisor)),
        })
    }

    /// Closes the connection and stops reconnecting. Cancel the consumers' shutdown tokens and await their
    /// tasks first: a consumer still running loses its channel and its messages are redelivered.
    pub async fn close(&self) {
        self.stop.cancel();
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
    }

    async fn declare_now(&self, link: &Link, group: &str, patterns: &[String]) -> Result<(), BusError> {
        let ephemeral = self.shared.is_ephemeral(group);
        let declaring = declare_group(
            &link.connection,
            &self.shared.exchange,
            group,
            patterns.iter(),
            ephemeral,
        );
        tokio::time::timeout(OPERATION_TIMEOUT, declaring)
            .await
            .map_err(|_| BusError::Unavailable(format!("declaring {group} timed out")))?
            .map_err(|e| BusError::Unavailable(format!("declaring {group} failed: {e}")))
    }
}

#[async_trait]
impl Bus for AmqpBus {
    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError> {
        self.publish_batch(std::slice::from_ref(envelope)).await
    }

    /// Publishes all, then waits for all confirms; not atomic: on `Err` some may have been delivered.
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let bodies = envelopes.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let keys: Vec<_> = envelopes.iter().map(Envelope::routing_key).collect();
        let messages = envelopes
            .iter()
            .zip(&bodies)
            .zip(&keys)
            .map(|((envelope, body), routing_key)| Outgoing {
                exchange: &self.shared.exchange,
                routing_key,
                body,
                properties: properties(envelope),
                mandatory: false,
            })
            .collect();
        self.shared.publish(messages).await
    }

    /// Declares the queue, its `<group>.dlq` and the bindings; remembered and re-declared after reconnects
    /// (even when this call fails because the broker is down).
    async fn declare(&self, group: &str, patterns: &[String]) -> Result<(), BusError> {
        let group = &queue_name(&self.shared.exchange, group);
        self.shared.remember(group, patterns);
        let link = self.shared.link()?;
        self.declare_now(&link, group, patterns).await
    }

    async fn subscribe(
        &self,
        opts: SubscribeOptions,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        let opts = SubscribeOptions {
            group: queue_name(&self.shared.exchange, &opts.group),
            ..opts
        };
        if opts.exclusive {
            self.shared.mark_ephemeral(&opts.group);
        }
        // `opts.group` is already the queue name: declare it as it is.
        self.shared.remember(&opts.group, &opts.patterns);
        let link = self.shared.link()?;
        self.declare_now(&link, &opts.group, &opts.patterns).await?;
        let consumer = Consumer::new(
            self.shared.clone(),
            self.keepalive.clone(),
            opts,
            handler,
            shutdown,
        );
        Ok(tokio::spawn(consumer.run()))
    }

    async fn drain_dead_letters(&self, group: &str) -> Result<Vec<Envelope>, BusError> {
        let link = self.shared.link()?;
        let queue = dead_letter_queue(&queue_name(&self.shared.exchange, group));
        let draining = async {
            let channel = link.connection.create_channel().await?;
            let drained = drain(&channel, &queue).await;
            close_channel(&channel).await;
            drained
        };
        tokio::time::timeout(OPERATION_TIMEOUT, draining)
            .await
            .map_err(|_| BusError::Unavailable(format!("draining {queue} timed out")))?
            .map_err(|e| BusError::Unavailable(format!("draining {queue} failed: {e}")))
    }

    async fn health(&self) -> Result<(), BusError> {
        self.shared.link().map(|_| ())
    }
}

/// Gets and acks every message of `queue`.
async fn drain(channel: &lapin::Channel, queue: &str) -> Result<Vec<Envelope>, lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, durable, FieldTable::default())
        .await?;
    let mut envelopes = Vec::new();
    while let Some(message) = channel.basic_get(queue, BasicGetOptions::default()).await? {
        match serde_json::from_slice(&message.delivery.data) {
            Ok(envelope) => envelopes.push(envelope),
            Err(error) => tracing::warn!(queue, %error, "dropping an undecodable dead letter"),
        }
        message.delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok(envelopes)
}

/// The RabbitMQ queue of a group: namespaced by the exchange, because queues are per virtual host while groups are
/// per installation — two installations (or two test runs) sharing a vhost must never consume each other's work.
pub fn queue_name(exchange: &str, group: &str) -> String {
    format!("{exchange}.{group}")
}
