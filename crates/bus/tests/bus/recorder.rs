//! A scriptable handler that records every delivery and how many ran at once.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Envelope, Handler, HandlerError};
use tokio::sync::watch;

use crate::harness::WAIT;

type Behaviour = dyn Fn(&Delivery) -> Result<(), HandlerError> + Send + Sync;

/// Records deliveries; answers with a behaviour after an optional delay.
pub struct Recorder {
    behaviour: Box<Behaviour>,
    delay: Duration,
    seen: Mutex<Vec<Delivery>>,
    started: watch::Sender<usize>,
    finished: watch::Sender<usize>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Recorder {
    /// Accepts everything at once.
    pub fn ok() -> Arc<Recorder> {
        Recorder::with(Duration::ZERO, |_| Ok(()))
    }

    /// Answers with `behaviour` after `delay`.
    pub fn with(
        delay: Duration,
        behaviour: impl Fn(&Delivery) -> Result<(), HandlerError> + Send + Sync + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder {
            behaviour: Box::new(behaviour),
            delay,
            seen: Mutex::new(Vec::new()),
            started: watch::Sender::new(0),
            finished: watch::Sender::new(0),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }

    /// Every delivery so far, in arrival order.
    pub fn seen(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().clone()
    }

    /// The attempt numbers seen so far, in arrival order.
    pub fn attempts(&self) -> Vec<u32> {
        self.seen().iter().map(|d| d.attempt).collect()
    }

    /// How many handler calls finished.
    pub fn finished(&self) -> usize {
        *self.finished.borrow()
    }

    /// The most handler calls that ran at the same time.
    pub fn max_running(&self) -> usize {
        self.max_running.load(Ordering::SeqCst)
    }

    /// Waits until `n` handler calls started.
    pub async fn wait_started(&self, n: usize) {
        wait_count(&self.started, n, "started").await;
    }

    /// Waits until `n` handler calls finished and returns the deliveries seen.
    pub async fn wait_finished(&self, n: usize) -> Vec<Delivery> {
        wait_count(&self.finished, n, "finished").await;
        self.seen()
    }
}

async fn wait_count(counter: &watch::Sender<usize>, n: usize, what: &str) {
    let mut rx = counter.subscribe();
    let reached = tokio::time::timeout(WAIT, rx.wait_for(|count| *count >= n)).await;
    let now = *counter.borrow();
    assert!(
        matches!(reached, Ok(Ok(_))),
        "expected {n} handler calls {what}, saw {now}"
    );
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(running, Ordering::SeqCst);
        self.seen.lock().unwrap().push(delivery.clone());
        self.started.send_modify(|n| *n += 1);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let result = (self.behaviour)(&delivery);
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.finished.send_modify(|n| *n += 1);
        result
    }
}

/// The ids of `deliveries`, sorted.
pub fn ids_of(deliveries: &[Delivery]) -> Vec<String> {
    let mut ids: Vec<String> = deliveries.iter().map(|d| d.envelope.id.clone()).collect();
    ids.sort();
    ids
}

/// The ids of `envelopes`, sorted.
pub fn ids(envelopes: &[Envelope]) -> Vec<String> {
    let mut ids: Vec<String> = envelopes.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids
}

/// The distinct ids of `deliveries`.
pub fn distinct_ids(deliveries: &[Delivery]) -> BTreeSet<String> {
    deliveries.iter().map(|d| d.envelope.id.clone()).collect()
}
