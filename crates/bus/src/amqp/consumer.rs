//! One AMQP subscription: a channel with bounded prefetch consuming the group queue, resubscribed after every
//! reconnect; retries and dead letters are confirmed copies, published before the original is acked.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    message::Delivery as AmqpDelivery,
    options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions},
    types::{AMQPValue, FieldTable},
    BasicProperties, Channel,
};
use tokio::{
    sync::{watch, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    link::{close_channel, declare_group, Link, Outgoing, Shared, OPERATION_TIMEOUT},
    message::{attempt_of, with_header, ATTEMPT_HEADER, REASON_HEADER},
};
use crate::{
    consume::{dead_letter_queue, invoke, prefetch_of, verdict, Verdict},
    Delivery, Envelope, Handler, SubscribeOptions,
};

/// Pause before subscribing again after the consumer could not start or was interrupted.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);
/// Pause before requeueing a message whose retry copy could not be published, so a broken broker is not spun on.
const FORWARD_FAILURE_PAUSE: Duration = Duration::from_secs(1);

/// A running subscription.
pub(super) struct Consumer {
    ctx: Arc<Context>,
    /// Keeps the connection supervisor alive while this consumer runs, even if the bus handle is dropped.
    _keepalive: Arc<DropGuard>,
}

struct Context {
    shared: Arc<Shared>,
    opts: SubscribeOptions,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
}

enum End {
    Shutdown,
    Interrupted(String),
}

impl Consumer {
    /// A consumer of `opts.group`; nothing runs before [`Consumer::run`].
    pub(super) fn new(
        shared: Arc<Shared>,
        keepalive: Arc<DropGuard>,
        opts: SubscribeOptions,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Self {
        Consumer {
            ctx: Arc::new(Context {
                shared,
                opts,
                handler,
                shutdown,
            }),
            _keepalive: keepalive,
        }
    }

    /// Consumes until `shutdown` is cancelled, then finishes the handlers in flight and acks their messages.
    pub(super) async fn run(self) {
        let ctx = self.ctx;
        let group = ctx.opts.group.as_str();
        // Across reconnects too: handlers of a dead channel may still run while the new one receives.
        let permits = Arc::new(Semaphore::new(usize::from(prefetch_of(&ctx.opts))));
        let mut in_flight = JoinSet::new();
        let mut links = ctx.shared.watch();
        while !ctx.shutdown.is_cancelled() {
            let Some(link) = next_link(&mut links, &ctx.shutdown).await else {
                break;
            };
            let (channel, consumer) = match tokio::time::timeout(OPERATION_TIMEOUT, open(&ctx, &link)).await {
                Ok(Ok(opened)) => opened,
                Ok(Err(error)) => {
                    tracing::warn!(group, %error, "starting the rabbitmq consumer failed; retrying");
                    pause(&mut links, &ctx.shutdown).await;
                    continue;
                }
                Err(_) => {
                    tracing::warn!(group, "starting the rabbitmq consumer timed out; retrying");
                    pause(&mut links, &ctx.shutdown).await;
                    continue;
                }
            };
            tracing::info!(group, prefetch = ctx.opts.prefetch, "rabbitmq consumer started");
            let tag = consumer.tag();
            match pump(&ctx, consumer, &permits, &mut in_flight).await {
                End::Shutdown => {
                    // Stop deliveries, finish what we hold (acks go over this channel), then close it; anything
                    // delivered but not started goes back to the queue.
                    let cancelling = channel.basic_cancel(tag.as_str(), BasicCancelOptions::default());
                    let _ = tokio::time::timeout(OPERATION_TIMEOUT, cancelling).await;
                    tracing::info!(group, finishing = in_flight.len(), "rabbitmq consumer stopping");
                    while let Some(joined) = in_flight.join_next().await {
                        log_join(group, joined);
                    }
                    close_channel(&channel).await;
                    break;
                }
                End::Interrupted(reason) => {
                    tracing::warn!(group, %reason, "rabbitmq consumer interrupted; resubscribing");
                    close_channel(&channel).await;
                    pause(&mut links, &ctx.shutdown).await;
                }
            }
        }
        while let Some(joined) = in_flight.join_next().await {
            log_join(group, joined);
        }
        tracing::info!(group, "rabbitmq consumer stopped");
    }
}

/// Waits for a link; `None` on shutdown or once the bus is closed (the supervisor is gone).
async fn next_link(
    links: &mut watch::Receiver<Option<Arc<Link>>>,
    shutdown: &CancellationToken,
) -> Option<Arc<Link>> {
    loop {
        if links.has_changed().is_err() {
            return None;
        }
        if let Some(link) = links.borrow_and_update().clone() {
            return Some(link);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            changed = links.changed() => changed.ok()?,
        }
    }
}

/// Waits a little, or less if a new link arrives or we shut down.
async fn pause(links: &mut watch::Receiver<Option<Arc<Link>>>, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        Ok(()) = links.changed() => {}
        _ = tokio::time::sleep(RESUBSCRIBE_PAUSE) => {}
    }
}

/// Opens a consumer channel: prefetch, topology (the queue may be gone after a broker restart), consume.
async fn open(ctx: &Context, link: &Link) -> Result<(Channel, lapin::Consumer), lapin::Error> {
    let group = ctx.opts.group.as_str();
    declare_group(
        &link.connection,
        &ctx.shared.exchange,
        group,
        ctx.opts.patterns.iter(),
        ctx.opts.exclusive,
    )
    .await?;
    let channel = link.connection.create_channel().await?;
    let consuming = async {
        channel
            .basic_qos(prefetch_of(&ctx.opts), BasicQosOptions::default())
            .await?;
        let tag = format!("{group}.{}", uuid::Uuid::new_v4());
        channel
            .basic_consume(group, &tag, BasicConsumeOptions::default(), FieldTable::default())
            .await
    };
    match consuming.await {
        Ok(consumer) => Ok((channel, consumer)),
        Err(error) => {
            close_channel(&channel).await;
            Err(error)
        }
    }
}

/// Hands deliveries to handler tasks, at most `prefetch` at a time, until shutdown or the stream ends.
async fn pump(
    ctx: &Arc<Context>,
    mut consumer: lapin::Consumer,
    permits: &Arc<Semaphore>,
    in_flight: &mut JoinSet<()>,
) -> End {
    loop {
        let permit = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return End::Shutdown,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return End::Shutdown,
            },
        };
        let next = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return End::Shutdown,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                in_flight.spawn(handle(ctx.clone(), delivery, permit));
            }
            Some(Err(error)) => return End::Interrupted(error.to_string()),
            None => return End::Interrupted("consumer cancelled by the broker".to_owned()),
        }
        while let Some(joined) = in_flight.try_join_next() {
            log_join(&ctx.opts.group, joined);
        }
    }
}

/// Runs the handler on one delivery and settles it; the permit bounds concurrency until the message is settled.
async fn handle(ctx: Arc<Context>, delivery: AmqpDelivery, _permit: OwnedSemaphorePermit) {
    let group = ctx.opts.group.as_str();
    let attempt = attempt_of(&delivery.properties);
    let envelope = match serde_json::from_slice::<Envelope>(&delivery.data) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(group, %error, "undecodable message; dead-lettering");
            dead_letter(&ctx, &delivery, format!("undecodable: {error}")).await;
            return;
        }
    };
    let event_id = envelope.id.clone();
    let redelivered = delivery.redelivered;
    let result = invoke(
        &ctx.handler,
        group,
        Delivery {
            envelope,
            attempt,
            redelivered,
        },
    )
    .await;
    match verdict(result, attempt, &ctx.opts, &event_id) {
        Verdict::Ack => ack(group, &delivery).await,
        Verdict::Retry { next_attempt, delay } => {
            // On shutdown the copy goes out at once: another consumer retries it early rather than never.
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = ctx.shutdown.cancelled() => {}
            }
            let attempt = AMQPValue::LongLongInt(i64::from(next_attempt));
            let properties = with_header(&delivery.properties, ATTEMPT_HEADER, attempt);
            forward(&ctx, &delivery, group, properties).await;
        }
        Verdict::DeadLetter { reason } => dead_letter(&ctx, &delivery, reason).await,
    }
}

async fn dead_letter(ctx: &Context, delivery: &AmqpDelivery, reason: String) {
    let properties = with_header(
        &delivery.properties,
        REASON_HEADER,
        AMQPValue::LongString(reason.into()),
    );
    forward(ctx, delivery, &dead_letter_queue(&ctx.opts.group), properties).await;
}

/// Publishes a confirmed copy straight to `queue`, then acks the original; if the copy fails the original is
/// requeued, so the message is never lost (at worst handled once more).
async fn forward(ctx: &Context, delivery: &AmqpDelivery, queue: &str, properties: BasicProperties) {
    let group = ctx.opts.group.as_str();
    let copy = Outgoing {
        exchange: "",
        routing_key: queue,
        body: &delivery.data,
        properties,
        mandatory: true,
    };
    match ctx.shared.publish(vec![copy]).await {
        Ok(()) => ack(group, delivery).await,
        Err(error) => {
            tracing::warn!(group, queue, %error, "forwarding a message failed; requeueing it");
            tokio::time::sleep(FORWARD_FAILURE_PAUSE).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            if let Err(error) = delivery.acker.nack(requeue).await {
                tracing::warn!(group, %error, "requeueing a message failed; the broker redelivers it");
            }
        }
    }
}

async fn ack(group: &str, delivery: &AmqpDelivery) {
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        tracing::warn!(group, %error, "acking a message failed; the broker redelivers it");
    }
}

fn log_join(group: &str, joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(group, %error, "message task failed");
    }
}
