//! The connection to RabbitMQ: one supervised link (connection + confirm-mode publisher channel) that is re-opened
//! with exponential backoff, re-declaring the topology, whenever the connection or its channel fails.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::future::join_all;
use lapin::{
    options::QueueDeclareOptions,
    options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions},
    publisher_confirm::Confirmation,
    types::FieldTable,
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{consume::dead_letter_queue, BusError};

/// Longest a publish waits for its confirm; past it the broker counts as unreachable.
pub(super) const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a declare, drain or channel set-up may take.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// How often the supervisor checks the link besides the error callbacks (a server-side close may not report one).
const STATUS_POLL: Duration = Duration::from_millis(500);

/// Declared groups and their patterns, re-declared after every reconnect.
type Topology = BTreeMap<String, BTreeSet<String>>;

/// One message to publish.
pub(super) struct Outgoing<'a> {
    /// `""` for the default exchange (direct to a queue).
    pub(super) exchange: &'a str,
    /// The routing key, or the queue name on the default exchange.
    pub(super) routing_key: &'a str,
    /// The body.
    pub(super) body: &'a [u8],
    /// Properties and headers.
    pub(super) properties: BasicProperties,
    /// Fail unless a queue took it (used for retries and dead letters, which must land somewhere).
    pub(super) mandatory: bool,
}

/// An open connection and its publisher channel.
pub(super) struct Link {
    /// The connection; consumers open their own channels on it.
    pub(super) connection: Connection,
    publisher: Channel,
}

impl Link {
    fn is_up(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }

    async fn close(&self) {
        if self.connection.status().connected() {
            let closing = self.connection.close(200, "flowmate bus closing");
            if let Ok(Err(error)) = tokio::time::timeout(OPERATION_TIMEOUT, closing).await {
                tracing::debug!(%error, "closing the rabbitmq connection failed");
            }
        }
    }
}

/// What the bus handle, the supervisor and the consumers share.
pub(super) struct Shared {
    /// The topic exchange every publish goes to.
    pub(super) exchange: String,
    url: String,
    topology: Mutex<Topology>,
    ephemeral: Mutex<BTreeSet<String>>,
    link: watch::Receiver<Option<Arc<Link>>>,
}

impl Shared {
    /// The current link, or `Unavailable` at once during an outage (publishers fail fast instead of hanging).
    pub(super) fn link(&self) -> Result<Arc<Link>, BusError> {
        self.link
            .borrow()
            .clone()
            .filter(|link| link.is_up())
            .ok_or_else(|| BusError::Unavailable("not connected to rabbitmq".to_owned()))
    }

    /// A receiver that sees every new link (`None` while reconnecting).
    pub(super) fn watch(&self) -> watch::Receiver<Option<Arc<Link>>> {
        self.link.clone()
    }

    /// Marks a group as ephemeral (see [`declare_group`]).
    pub(super) fn mark_ephemeral(&self, group: &str) {
        self.ephemeral
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(group.to_owned());
    }

    /// Whether a group was marked ephemeral.
    pub(super) fn is_ephemeral(&self, group: &str) -> bool {
        self.ephemeral
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(group)
    }

    /// Records a group so it is re-declared after a reconnect.
    pub(super) fn remember(&self, group: &str, patterns: &[String]) {
        let mut topology = self.topology.lock().unwrap_or_else(PoisonError::into_inner);
        topology
            .entry(group.to_owned())
            .or_default()
            .extend(patterns.iter().cloned());
    }

    /// Publishes every message on the current link; `Ok` once the broker confirmed all of them.
    pub(super) async fn publish(&self, messages: Vec<Outgoing<'_>>) -> Result<(), BusError> {
        let link = self.link()?;
        let publishing = async {
            let mut confirms = Vec::with_capacity(messages.len());
            for message in messages {
                let options = BasicPublishOptions {
                    mandatory: message.mandatory,
                    ..BasicPublishOptions::default()
                };
                let confirm = link
                    .publisher
                    .basic_publish(
                        message.exchange,
                        message.routing_key,
                        options,
                        message.body,
                        message.properties,
                    )
                    .await
                    .map_err(|e| BusError::Unavailable(format!("rabbitmq publish failed: {e}")))?;
                confirms.push(confirm);
            }
            for confirmation in join_all(confirms).await {
                let confirmation = confirmation
                    .map_err(|e| BusError::NotConfirmed(format!("rabbitmq confirm lost: {e}")))?;
                confirmed(confirmation)?;
            }
            Ok(())
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, publishing)
            .await
            .map_err(|_| BusError::Unavailable("rabbitmq did not confirm the publish in time".to_owned()))?
    }
}

fn confirmed(confirmation: Confirmation) -> Result<(), BusError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(
            BusError::NotConfirmed(format!("returned by rabbitmq: {}", returned.reply_text)),
        ),
        Confirmation::Nack(None) => Err(BusError::NotConfirmed("nacked by rabbitmq".to_owned())),
        Confirmation::NotRequested => Err(BusError::NotConfirmed("publisher confirms are off".to_owned())),
    }
}

/// Connects, declares the exchange and starts the supervisor. Fails if the first connection fails, so a wrong
/// URL shows at start-up.
pub(super) async fn start(
    url: &str,
    exchange: &str,
    stop: CancellationToken,
) -> Result<(Arc<Shared>, JoinHandle<()>), BusError> {
    let opening = open(url, exchange, Topology::new(), BTreeSet::new());
    let (link, errors) = tokio::time::timeout(CONNECT_TIMEOUT, opening)
        .await
        .map_err(|_| BusError::Unavailable("connecting to rabbitmq timed out".to_owned()))?
        .map_err(|e| BusError::Unavailable(format!("cannot connect to rabbitmq: {e}")))?;
    let (tx, rx) = watch::channel(Some(Arc::new(link)));
    let shared = Arc::new(Shared {
        exchange: exchange.to_owned(),
        url: url.to_owned(),
        topology: Mutex::new(Topology::new()),
        ephemeral: Mutex::new(BTreeSet::new()),
        link: rx,
    });
    let supervisor = tokio::spawn(supervise(shared.clone(), tx, errors, stop));
    Ok((shared, supervisor))
}

/// Opens a connection and publisher channel, declares the exchange and `topology`.
async fn open(
    url: &str,
    exchange: &str,
    topology: Topology,
    ephemeral: BTreeSet<String>,
) -> Result<(Link, mpsc::UnboundedReceiver<String>), lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name("flowmate-bus".into());
    let connection = Connection::connect(url, properties).await?;
    let (errors_tx, errors) = mpsc::unbounded_channel();
    let on_connection_error = errors_tx.clone();
    connection.on_error(move |error| {
        let _ = on_connection_error.send(format!("connection: {error}"));
    });
    let set_up = async {
        let publisher = connection.create_channel().await?;
        publisher.on_error(move |error| {
            let _ = errors_tx.send(format!("publisher channel: {error}"));
        });
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        publisher
            .exchange_declare(exchange, ExchangeKind::Topic, durable, FieldTable::default())
            .await?;
        for (group, patterns) in &topology {
            declare_group(
                &connection,
                exchange,
                group,
                patterns.iter(),
                ephemeral.contains(group),
            )
            .await?;
        }
        Ok(publisher)
    };
    match set_up.await {
        Ok(publisher) => Ok((
            Link {
                connection,
                publisher,
            },
            errors,
        )),
        Err(error) => {
            let _ = connection.close(200, "flowmate bus set-up failed").await;
            Err(error)
        }
    }
}

/// Declares the queue `group`, its dead-letter queue and the bindings, on a channel of its own so a
/// declaration the broker refuses cannot close the publisher channel.
///
/// Durable groups survive broker restarts. Ephemeral groups (exclusive subscriptions: one replica's own copy of
/// events) are deleted by the broker once their consumer is gone (`auto_delete`), or after a minute unused
/// (`x-expires`), so replicas that come and go leave nothing behind.
pub(super) async fn declare_group(
    connection: &Connection,
    exchange: &str,
    group: &str,
    patterns: impl Iterator<Item = &String>,
    ephemeral: bool,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    let result = async {
        let (options, args, dlq_args) = if ephemeral {
            let mut args = FieldTable::default();
            args.insert("x-expires".into(), lapin::types::AMQPValue::LongInt(60_000));
            let mut dlq_args = FieldTable::default();
            dlq_args.insert("x-expires".into(), lapin::types::AMQPValue::LongInt(600_000));
            let options = QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            };
            (options, args, dlq_args)
        } else {
            let options = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            (options, FieldTable::default(), FieldTable::default())
        };
        channel.queue_declare(group, options, args).await?;
        channel
            .queue_declare(
                &dead_letter_queue(group),
                QueueDeclareOptions {
                    auto_delete: false,
                    ..options
                },
                dlq_args,
            )
            .await?;
        for pattern in patterns {
            channel
                .queue_bind(
                    group,
                    exchange,
                    pattern,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
    .await;
    close_channel(&channel).await;
    result
}

/// Closes a channel, ignoring a channel the broker already closed.
pub(super) async fn close_channel(channel: &Channel) {
    if channel.status().connected() {
        let _ = tokio::time::timeout(OPERATION_TIMEOUT, channel.close(200, "done")).await;
    }
}

/// Watches the link and replaces it when it fails, until `stop` is cancelled.
async fn supervise(
    shared: Arc<Shared>,
    tx: watch::Sender<Option<Arc<Link>>>,
    mut errors: mpsc::UnboundedReceiver<String>,
    stop: CancellationToken,
) {
    loop {
        let Some(link) = tx.borrow().clone() else {
            return;
        };
        let reason = loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    tx.send_replace(None);
                    link.close().await;
                    tracing::info!("rabbitmq bus closed");
                    return;
                }
                error = errors.recv() => break error.unwrap_or_else(|| "error channel closed".to_owned()),
                _ = tokio::time::sleep(STATUS_POLL) => {
                    if !link.is_up() {
                        break "connection or publisher channel closed".to_owned();
                    }
                }
            }
        };
        tracing::warn!(%reason, "rabbitmq link lost; reconnecting");
        tx.send_replace(None);
        link.close().await;
        drop(link);

        let mut delay = RECONNECT_MIN;
        loop {
            let topology = shared
                .topology
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let ephemeral = shared
                .ephemeral
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let opening = open(&shared.url, &shared.exchange, topology, ephemeral);
            let attempt = tokio::select! {
                _ = stop.cancelled() => return,
                attempt = tokio::time::timeout(CONNECT_TIMEOUT, opening) => attempt,
            };
            match attempt {
                Ok(Ok((link, new_errors))) => {
                    errors = new_errors;
                    tx.send_replace(Some(Arc::new(link)));
                    tracing::info!("rabbitmq link re-established");
                    break;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "rabbitmq reconnect failed")
                }
                Err(_) => tracing::warn!(
                    retry_in_ms = delay.as_millis() as u64,
                    "rabbitmq reconnect timed out"
                ),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }
}
