//! One embedded subscription: claims rows of its group, runs the handler on each and settles them.

use std::{sync::Arc, time::Duration};

use tokio::{sync::Notify, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    store::ClaimedRow,
    writer::{now_ms, Done, Op, WriterHandle},
};
use crate::{
    consume::{dead_letter_queue, invoke, prefetch_of, verdict, Verdict},
    Delivery, Envelope, Handler, SubscribeOptions,
};

/// Safety net for wake-ups nobody signals; new messages and due retries wake the consumer directly.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Pause after a failed claim so a broken store is not hammered.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// A running subscription.
pub(super) struct Consumer {
    ctx: Arc<Context>,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
}

struct Context {
    writer: WriterHandle,
    opts: SubscribeOptions,
    handler: Arc<dyn Handler>,
}

impl Consumer {
    /// A consumer of `opts.group`; nothing runs before [`Consumer::run`].
    pub(super) fn new(
        writer: WriterHandle,
        notify: Arc<Notify>,
        opts: SubscribeOptions,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Self {
        Consumer {
            ctx: Arc::new(Context {
                writer,
                opts,
                handler,
            }),
            notify,
            shutdown,
        }
    }

    /// Consumes until `shutdown` is cancelled, then waits for the handlers in flight and their settlements.
    pub(super) async fn run(self) {
        let group = self.ctx.opts.group.as_str();
        let prefetch = usize::from(prefetch_of(&self.ctx.opts));
        let mut in_flight = JoinSet::new();
        while !self.shutdown.is_cancelled() {
            // Armed before claiming, so a publish committed while the claim runs still wakes us.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let mut wake = Instant::now() + IDLE_POLL;
            let free = prefetch.saturating_sub(in_flight.len());
            if free > 0 {
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                match self
                    .ctx
                    .writer
                    .call(Op::Claim {
                        group: group.to_owned(),
                        limit,
                    })
                    .await
                {
                    Ok(Done::Claimed(claimed)) => {
                        if let Some(due) = claimed.next_due_ms {
                            wake = wake.min(instant_of(due));
                        }
                        for row in claimed.rows {
                            in_flight.spawn(handle(self.ctx.clone(), row));
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(group, %error, "claiming messages failed");
                        wake = Instant::now() + ERROR_PAUSE;
                    }
                }
            }

            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake) => {}
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => log_join(group, joined),
            }
            while let Some(joined) = in_flight.try_join_next() {
                log_join(group, joined);
            }
        }
        let finishing = in_flight.len();
        tracing::info!(group, finishing, "embedded consumer stopping");
        while let Some(joined) = in_flight.join_next().await {
            log_join(group, joined);
        }
        tracing::info!(group, "embedded consumer stopped");
    }
}

/// Runs the handler on one claimed row and commits the outcome.
async fn handle(ctx: Arc<Context>, row: ClaimedRow) {
    let group = ctx.opts.group.as_str();
    let seq = row.seq;
    let op = match serde_json::from_str::<Envelope>(&row.body) {
        Err(error) => {
            tracing::warn!(group, seq, %error, "undecodable message; dead-lettering");
            Op::DeadLetter {
                seq,
                dlq: dead_letter_queue(group),
                reason: format!("undecodable: {error}"),
            }
        }
        Ok(envelope) => {
            let event_id = envelope.id.clone();
            let attempt = u32::try_from(row.attempt).unwrap_or(u32::MAX).max(1);
            let delivery = Delivery {
                envelope,
                attempt,
                redelivered: row.redelivered,
            };
            let result = invoke(&ctx.handler, group, delivery).await;
            match verdict(result, attempt, &ctx.opts, &event_id) {
                Verdict::Ack => Op::Ack { seq },
                Verdict::Retry { next_attempt, delay } => Op::Retry {
                    seq,
                    attempt: next_attempt,
                    available_at_ms: now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(0)),
                },
                Verdict::DeadLetter { reason } => Op::DeadLetter {
                    seq,
                    dlq: dead_letter_queue(group),
                    reason,
                },
            }
        }
    };
    if let Err(error) = ctx.writer.call(op).await {
        tracing::error!(group, seq, %error, "settling a message failed; it is redelivered after a restart");
    }
}

fn instant_of(due_ms: i64) -> Instant {
    let wait = u64::try_from(due_ms.saturating_sub(now_ms())).unwrap_or(0);
    Instant::now() + Duration::from_millis(wait)
}

fn log_join(group: &str, joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(group, %error, "message task failed");
    }
}
