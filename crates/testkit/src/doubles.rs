//! Test doubles for the bus: a bus that records publishes (and can be taken down), and a handler that collects
//! what it is delivered.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Mutex,
};

use async_trait::async_trait;
use flowmate_bus::{Bus, BusError, Delivery, Envelope, Handler, HandlerError, SubscribeOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A bus that records what it is asked to publish; while `down` every publish fails (as when the broker is
/// unreachable, or the process dies before publishing).
#[derive(Default)]
pub struct RecordingBus {
    published: Mutex<Vec<Envelope>>,
    /// When set, publishes fail with `Unavailable`.
    pub down: AtomicBool,
}

impl RecordingBus {
    /// A bus that is down from the start.
    pub fn down() -> Self {
        RecordingBus {
            down: AtomicBool::new(true),
            ..RecordingBus::default()
        }
    }

    /// Takes the bus down or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The published events, in order.
    pub fn published(&self) -> Vec<Envelope> {
        self.published.lock().unwrap().clone()
    }

    /// The ids of the published events, in order.
    pub fn ids(&self) -> Vec<String> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }
}

#[async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError> {
        self.publish_batch(std::slice::from_ref(envelope)).await
    }
    async fn publish_batch(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("down for the test".into()));
        }
        self.published.lock().unwrap().extend_from_slice(envelopes);
        Ok(())
    }
    async fn declare(&self, _: &str, _: &[String]) -> Result<(), BusError> {
        Ok(())
    }
    async fn subscribe(
        &self,
        _: SubscribeOptions,
        _: Arc<dyn Handler>,
        _: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        Ok(tokio::spawn(async {}))
    }
    async fn drain_dead_letters(&self, _: &str) -> Result<Vec<Envelope>, BusError> {
        Ok(vec![])
    }
    async fn health(&self) -> Result<(), BusError> {
        if self.down.load(Ordering::SeqCst) {
            Err(BusError::Unavailable("down for the test".into()))
        } else {
            Ok(())
        }
    }
}

/// A handler that keeps every envelope it is delivered (duplicates included, so "exactly once" is checked).
#[derive(Default)]
pub struct Collector(Mutex<Vec<Envelope>>);

#[async_trait]
impl Handler for Collector {
    async fn handle(&self, d: Delivery) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(d.envelope);
        Ok(())
    }
}

impl Collector {
    /// Everything delivered so far.
    pub fn all(&self) -> Vec<Envelope> {
        self.0.lock().unwrap().clone()
    }

    /// The event types delivered so far, in order.
    pub fn kinds(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|e| e.kind.clone()).collect()
    }

    /// Waits until at least `n` envelopes arrived (30 s at most: a loaded CI machine can be slow to deliver), then
    /// returns them; returns as soon as they are there.
    pub async fn wait_for(&self, n: usize) -> Vec<Envelope> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.0.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let got = self.all();
        assert!(
            got.len() >= n,
            "expected {n} events within 30 s, got {}: {:?}",
            got.len(),
            self.kinds()
        );
        got
    }
}
