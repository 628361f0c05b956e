//! Where an accepted trigger goes before the caller hears 200: published with the broker's confirm, or — when the
//! broker cannot confirm — committed to the spool in the service's own database, from which the relay publishes it
//! once the broker is back. Only when neither takes it is the webhook refused.
//!
//! Order: once one trigger went to the spool, this replica spools every trigger after it until the relay has
//! published the spool and found it empty, so triggers reach the work queue in the order they were accepted. The
//! spooled copy is a message of its own (a fresh envelope id) with the same execution id, the request id: if the
//! unconfirmed publish did reach the broker, the execution service runs the request id once and treats the other
//! message as a duplicate.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use flowmate_bus::SharedBus;
use flowmate_domain::{Envelope, Id};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    store::{
        spool::{Round, BATCH},
        Spool,
    },
    throttle::Throttled,
};

/// Longest a trigger waits for the broker's confirm before it goes to the spool instead (the bus itself waits
/// longer). A confirm that comes later makes the spooled copy a duplicate, which the execution service ignores.
const CONFIRM_WAIT: Duration = Duration::from_secs(2);
/// Longest a spool write may take; past it the database counts as unreachable (the row may still commit and be
/// published: the answer is then a 503 for a trigger that runs, as for a lost broker confirm).
const SPOOL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the relay looks at the spool when nothing woke it (rows left by a crashed replica).
const RELAY_IDLE: Duration = Duration::from_secs(1);
/// The relay's longest wait between rounds while the broker does not confirm.
const RELAY_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Where a trigger went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Confirmed by the broker.
    Published,
    /// Committed to the spool.
    Spooled,
}

/// Neither the broker nor the database took the trigger.
#[derive(Debug, Clone)]
pub struct Refused(pub String);

#[derive(Default)]
struct State {
    /// Triggers go to the spool first.
    spooling: bool,
    /// Spool writes decided but not finished.
    writers: usize,
    /// Spool writes finished (the relay may stop spooling only if none finished while it found the spool empty).
    written: u64,
}

/// The trigger queue of one replica.
pub struct TriggerQueue {
    bus: SharedBus,
    spool: Spool,
    state: Mutex<State>,
    wake: Notify,
    /// Spooled triggers, logged once a second.
    pub spooled_log: Throttled,
    /// Relay failures, logged once a second.
    relay_log: Throttled,
}

impl TriggerQueue {
    /// Publishes on `bus`, spools to `spool`. It starts spooling until the relay's first round found the spool
    /// empty, so triggers a previous run left there go first.
    pub fn new(bus: SharedBus, spool: Spool) -> TriggerQueue {
        TriggerQueue {
            bus,
            spool,
            state: Mutex::new(State {
                spooling: true,
                ..State::default()
            }),
            wake: Notify::new(),
            spooled_log: Throttled::default(),
            relay_log: Throttled::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether triggers go to the spool first now.
    pub fn spooling(&self) -> bool {
        self.state().spooling
    }

    /// Publishes `event` with a confirm, or spools it when the broker cannot confirm (or while the spool is not
    /// yet published). `Err` only when neither the broker nor the database took it.
    pub async fn queue(&self, event: &Envelope) -> Result<Queued, Refused> {
        let spool_first = {
            let mut s = self.state();
            if s.spooling {
                s.writers += 1;
            }
            s.spooling
        };
        let mut bus_error = None;
        if !spool_first {
            match self.publish(event).await {
                Ok(()) => return Ok(Queued::Published),
                Err(e) => {
                    let mut s = self.state();
                    s.spooling = true;
                    s.writers += 1;
                    bus_error = Some(e);
                }
            }
        }
        let copy = Envelope {
            id: Id::new().into_string(),
            ..event.clone()
        };
        let written = tokio::time::timeout(SPOOL_WRITE_TIMEOUT, self.spool.push(&copy)).await;
        {
            let mut s = self.state();
            s.writers -= 1;
            if matches!(written, Ok(Ok(()))) {
                s.written += 1;
            }
        }
        let db_error = match written {
            Ok(Ok(())) => {
                if let Some(line) = self
                    .spooled_log
                    .record(bus_error.as_deref().unwrap_or("spool not yet published"))
                {
                    tracing::warn!(count = line.count, error = %line.error,
                        "the broker did not confirm: webhooks accepted into the spool");
                }
                self.wake.notify_one();
                return Ok(Queued::Spooled);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", SPOOL_WRITE_TIMEOUT.as_secs()),
        };
        // The database cannot take it; the broker may be back already (the spool was only being published).
        let bus_error = match bus_error {
            Some(e) => e,
            None => match self.publish(event).await {
                Ok(()) => return Ok(Queued::Published),
                Err(e) => e,
            },
        };
        Err(Refused(format!("broker: {bus_error}; database: {db_error}")))
    }

    /// Publishes `event`, waiting at most [`CONFIRM_WAIT`] for the confirm.
    async fn publish(&self, event: &Envelope) -> Result<(), String> {
        match tokio::time::timeout(CONFIRM_WAIT, self.bus.publish(event)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no confirm within {} s", CONFIRM_WAIT.as_secs())),
        }
    }

    /// Publishes the spool until `shutdown`: woken by every spooled trigger, else once a second; backs off while
    /// the broker does not confirm. Stops spooling new triggers once a round finds the spool empty and no spool
    /// write happened meanwhile.
    pub fn start_relay(self: std::sync::Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let before = self.state().written;
                let wait = match self.spool.relay(&self.bus).await {
                    Ok(Round::Published(n)) => {
                        metrics::counter!("flowmate_webhook_spool_published_total").increment(n as u64);
                        backoff = Duration::from_millis(100);
                        if n as i64 >= BATCH {
                            continue;
                        }
                        // Once more at once: to find it empty and stop spooling.
                        Duration::ZERO
                    }
                    Ok(Round::Empty) => {
                        backoff = Duration::from_millis(100);
                        self.drained(before);
                        RELAY_IDLE
                    }
                    Ok(Round::Elsewhere) => RELAY_IDLE,
                    Err(e) => {
                        if let Some(line) = self.relay_log.record(&e.to_string()) {
                            tracing::warn!(failures = line.count, error = %line.error,
                                "the trigger spool cannot be published yet; retrying");
                        }
                        backoff = (backoff * 2).min(RELAY_BACKOFF_MAX);
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(backoff) => continue,
                        }
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        })
    }

    /// The relay found the spool empty after `before` writes had finished.
    fn drained(&self, before: u64) {
        let mut s = self.state();
        if s.spooling && s.writers == 0 && s.written == before {
            s.spooling = false;
            drop(s);
            tracing::info!("the trigger spool is published: webhooks are published directly again");
        }
    }

    /// Writes the lines the throttled logs still owe (called every second).
    pub fn flush_logs(&self) {
        if let Some(line) = self.spooled_log.flush() {
            tracing::warn!(count = line.count, error = %line.error,
                "the broker did not confirm: webhooks accepted into the spool");
        }
        if let Some(line) = self.relay_log.flush() {
            tracing::warn!(failures = line.count, error = %line.error,
                "the trigger spool cannot be published yet; retrying");
        }
    }
}
