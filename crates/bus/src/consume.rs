//! What both backends do around one handler call: the trace span, panic capture and the retry decision.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use futures::FutureExt;
use tracing::Instrument;

use crate::{Delivery, Handler, HandlerError, SubscribeOptions};

/// The longest wait between two attempts, whatever the attempt number.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The dead-letter queue of a group.
pub(crate) fn dead_letter_queue(group: &str) -> String {
    format!("{group}.dlq")
}

/// How many messages a consumer may hold; AMQP reads 0 as "unbounded", which is never what a caller means.
pub(crate) fn prefetch_of(opts: &SubscribeOptions) -> u16 {
    opts.prefetch.max(1)
}

/// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`, capped at [`MAX_BACKOFF`].
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(MAX_BACKOFF)
}

/// What to do with a message once its handler returned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Processed: remove it.
    Ack,
    /// Deliver again as attempt `next_attempt` after `delay`.
    Retry { next_attempt: u32, delay: Duration },
    /// Move it to `<group>.dlq`.
    DeadLetter { reason: String },
}

/// Turns a handler result into a [`Verdict`], logging failures.
pub(crate) fn verdict(
    result: Result<(), HandlerError>,
    attempt: u32,
    opts: &SubscribeOptions,
    event_id: &str,
) -> Verdict {
    let group = opts.group.as_str();
    match result {
        Ok(()) => Verdict::Ack,
        Err(HandlerError::Retry(reason)) if attempt >= opts.max_attempts.max(1) => {
            tracing::warn!(group, event_id, attempt, %reason, "handler failed on its last attempt; dead-lettering");
            Verdict::DeadLetter {
                reason: format!("retry: {reason}"),
            }
        }
        Err(HandlerError::Retry(reason)) => {
            let delay = backoff(opts.retry_backoff, attempt);
            tracing::warn!(
                group,
                event_id,
                attempt,
                delay_ms = delay.as_millis() as u64,
                %reason,
                "handler failed; retrying"
            );
            Verdict::Retry {
                next_attempt: attempt.saturating_add(1),
                delay,
            }
        }
        Err(HandlerError::Reject(reason)) => {
            tracing::warn!(group, event_id, attempt, %reason, "handler rejected the message; dead-lettering");
            Verdict::DeadLetter {
                reason: format!("reject: {reason}"),
            }
        }
    }
}

/// Runs the handler inside a `bus.consume` span that continues the producer's trace. A panic counts as a
/// transient failure so one bad message cannot take the consumer down.
pub(crate) async fn invoke(
    handler: &Arc<dyn Handler>,
    group: &str,
    delivery: Delivery,
) -> Result<(), HandlerError> {
    let span = tracing::info_span!(
        "bus.consume",
        group = %group,
        kind = %delivery.envelope.kind,
        event_id = %delivery.envelope.id,
        attempt = delivery.attempt,
    );
    if let Some(traceparent) = delivery.envelope.traceparent.as_deref() {
        flowmate_telemetry::propagation::set_parent(&span, traceparent);
    }
    AssertUnwindSafe(handler.handle(delivery))
        .catch_unwind()
        .instrument(span)
        .await
        .unwrap_or_else(|_| Err(HandlerError::Retry("handler panicked".to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max_attempts: u32) -> SubscribeOptions {
        SubscribeOptions {
            max_attempts,
            retry_backoff: Duration::from_millis(100),
            ..SubscribeOptions::new("g", &["#"])
        }
    }

    #[test]
    fn backoff_doubles_per_attempt_and_stops_at_thirty_seconds() {
        let base = Duration::from_millis(200);
        assert_eq!(backoff(base, 1), Duration::from_millis(200));
        assert_eq!(backoff(base, 2), Duration::from_millis(400));
        assert_eq!(backoff(base, 4), Duration::from_millis(1600));
        assert_eq!(backoff(base, 20), MAX_BACKOFF);
        assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_retry_below_max_attempts_is_redelivered_and_at_max_is_dead_lettered() {
        let retry = || Err(HandlerError::Retry("later".into()));
        assert_eq!(
            verdict(retry(), 2, &opts(3), "e"),
            Verdict::Retry {
                next_attempt: 3,
                delay: Duration::from_millis(200)
            }
        );
        assert!(matches!(
            verdict(retry(), 3, &opts(3), "e"),
            Verdict::DeadLetter { .. }
        ));
        assert!(matches!(
            verdict(retry(), 1, &opts(0), "e"),
            Verdict::DeadLetter { .. }
        ));
    }

    #[test]
    fn a_reject_is_dead_lettered_on_the_first_attempt_and_ok_is_acked() {
        let reject = Err(HandlerError::Reject("bad".into()));
        assert!(matches!(
            verdict(reject, 1, &opts(5), "e"),
            Verdict::DeadLetter { .. }
        ));
        assert_eq!(verdict(Ok(()), 1, &opts(5), "e"), Verdict::Ack);
    }
}
