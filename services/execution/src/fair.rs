//! Fair scheduling of the work queues: triggers arrive on one queue per tenant shard (`execution.work.<k>`, see
//! [`flowmate_domain::execution::work_queues`]) plus the unsharded `execution.work`; each has a consumer of its own
//! whose prefetch lets it hold up to the worker's concurrency, and a [`FairGate`] lets at most that many run at
//! once, handing a freed slot to the lanes with waiting messages in turn. A tenant flooding its shard thus fills
//! its lane only: a message of another shard waits for the next free slot, never behind the flood. Messages stay
//! unacked until their handler finished, so redelivery and durability are the bus's as before.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use flowmate_bus::{Delivery, Handler, HandlerError};
use tokio::sync::oneshot;

/// Up to `slots` handlers run at once; waiters are served one lane at a time, in turn.
pub struct FairGate {
    state: Mutex<GateState>,
}

struct GateState {
    free: usize,
    lanes: Vec<VecDeque<oneshot::Sender<Slot>>>,
    /// The lane served next when a slot frees up.
    next: usize,
}

/// A running handler's slot; dropping it hands it to the next waiter in turn (or frees it).
pub struct Slot {
    gate: Option<Arc<FairGate>>,
}

impl FairGate {
    /// A gate of `slots` (at least 1) shared by `lanes` lanes.
    pub fn new(slots: usize, lanes: usize) -> Arc<FairGate> {
        Arc::new(FairGate {
            state: Mutex::new(GateState {
                free: slots.max(1),
                lanes: (0..lanes).map(|_| VecDeque::new()).collect(),
                next: 0,
            }),
        })
    }

    /// Waits for a slot for a message of `lane`.
    pub async fn enter(self: &Arc<Self>, lane: usize) -> Slot {
        let waiting = {
            let mut state = self.lock();
            if state.free > 0 {
                state.free -= 1;
                return Slot {
                    gate: Some(self.clone()),
                };
            }
            let (tx, rx) = oneshot::channel();
            let lane = lane.min(state.lanes.len() - 1);
            state.lanes[lane].push_back(tx);
            rx
        };
        // The sender is only dropped with the gate, which this future holds: it always answers.
        waiting
            .await
            .unwrap_or_else(|_| unreachable!("the gate outlives its waiters"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a freed slot to the first waiter of the next lane in turn that has one, else frees it.
    fn release(self: &Arc<Self>) {
        let mut state = self.lock();
        let lanes = state.lanes.len();
        let mut tried = 0;
        while tried < lanes {
            let lane = state.next;
            let Some(waiter) = state.lanes[lane].pop_front() else {
                state.next = (lane + 1) % lanes;
                tried += 1;
                continue;
            };
            // One message per lane and turn.
            state.next = (lane + 1) % lanes;
            let slot = Slot {
                gate: Some(self.clone()),
            };
            if let Err(mut slot) = waiter.send(slot) {
                // The waiter gave up: disarm the slot that came back (dropping it armed would release again) and
                // try the next one.
                slot.gate = None;
                continue;
            }
            return;
        }
        state.free += 1;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.release();
        }
    }
}

/// A work-queue handler that runs `inner` once the gate lets a message of its lane through.
pub struct Gated {
    /// The worker.
    pub inner: Arc<dyn Handler>,
    /// Shared by every work queue.
    pub gate: Arc<FairGate>,
    /// This queue's lane.
    pub lane: usize,
}

#[async_trait::async_trait]
impl Handler for Gated {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let _slot = self.gate.enter(self.lane).await;
        self.inner.handle(delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_lanes_in_turn() {
        let gate = FairGate::new(1, 3);
        let first = gate.enter(0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Lane 0 queues three, then lane 2 one, then lane 1 one.
        for lane in [0, 0, 0, 2, 1] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = gate.enter(lane).await;
                order.lock().unwrap().push(lane);
            }));
            tokio::task::yield_now().await;
        }
        drop(first);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 0, 0]);
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_does_not_keep_the_slot() {
        let gate = FairGate::new(1, 2);
        let first = gate.enter(0).await;
        let abandoned = tokio::spawn({
            let gate = gate.clone();
            async move {
                let _slot = gate.enter(1).await;
            }
        });
        tokio::task::yield_now().await;
        abandoned.abort();
        let _ = abandoned.await;
        drop(first);
        let _again = tokio::time::timeout(std::time::Duration::from_secs(1), gate.enter(0))
            .await
            .expect("the slot is free again");
    }
}
