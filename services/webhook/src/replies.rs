//! Sync webhooks wait here for their execution: the work item names this replica's reply routing key, the
//! execution service publishes a copy of `execution.finished` with it, and this replica's own queue delivers it to
//! the waiting requests (several may wait for one execution: a repeated Idempotency-Key).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use serde_json::Value;
use tokio::sync::oneshot;

type Waiters = HashMap<String, Vec<(u64, oneshot::Sender<Value>)>>;

/// Requests waiting for their execution, by execution id.
pub struct Replies {
    /// The routing key replies to this replica carry.
    pub routing_key: String,
    waiting: Mutex<Waiters>,
    next: AtomicU64,
}

/// One request's wait; dropping it (answered, timed out, or the caller went away) stops waiting.
pub struct Wait {
    replies: Arc<Replies>,
    id: String,
    token: u64,
    /// Receives the execution's result.
    pub result: oneshot::Receiver<Value>,
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.replies.waiting.lock() {
            if let Some(list) = waiting.get_mut(&self.id) {
                list.retain(|(t, _)| *t != self.token);
                if list.is_empty() {
                    waiting.remove(&self.id);
                }
            }
        }
    }
}

impl Replies {
    /// A registry for replies routed with `routing_key`.
    pub fn new(routing_key: String) -> Replies {
        Replies {
            routing_key,
            waiting: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }

    /// Starts waiting for `execution_id` (before its trigger is published, so a fast reply is not missed).
    pub fn wait(self: &Arc<Self>, execution_id: &str) -> Wait {
        let (tx, rx) = oneshot::channel();
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting
                .entry(execution_id.to_owned())
                .or_default()
                .push((token, tx));
        }
        Wait {
            replies: self.clone(),
            id: execution_id.to_owned(),
            token,
            result: rx,
        }
    }
}

/// Hands replies to the waiting requests.
pub struct ReplyHandler(pub Arc<Replies>);

#[async_trait]
impl Handler for ReplyHandler {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let data = delivery.envelope.data;
        let Some(id) = data.get("executionId").and_then(Value::as_str) else {
            return Ok(());
        };
        let waiters = self
            .0
            .waiting
            .lock()
            .ok()
            .and_then(|mut w| w.remove(id))
            .unwrap_or_default();
        for (_, waiter) in waiters {
            let _ = waiter.send(data.clone());
        }
        Ok(())
    }
}
