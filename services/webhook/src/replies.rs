//! Sync webhooks wait here for their execution: the work item names this replica's reply routing key, the
//! execution service publishes a copy of `execution.finished` with it, and this replica's own queue delivers it to
//! the waiting request.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use serde_json::Value;
use tokio::sync::oneshot;

/// Requests waiting for their execution, by execution id.
pub struct Replies {
    /// The routing key replies to this replica carry.
    pub routing_key: String,
    waiting: Mutex<HashMap<String, oneshot::Sender<Value>>>,
}

impl Replies {
    /// A registry for replies routed with `routing_key`.
    pub fn new(routing_key: String) -> Replies {
        Replies {
            routing_key,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Starts waiting for `execution_id` (before its trigger is published, so a fast reply is not missed).
    pub fn wait(&self, execution_id: &str) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(execution_id.to_owned(), tx);
        }
        rx
    }

    /// Stops waiting (timed out or failed to publish).
    pub fn forget(&self, execution_id: &str) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(execution_id);
        }
    }
}

/// Hands replies to the waiting requests.
pub struct ReplyHandler(pub std::sync::Arc<Replies>);

#[async_trait]
impl Handler for ReplyHandler {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let data = delivery.envelope.data;
        let Some(id) = data.get("executionId").and_then(Value::as_str) else {
            return Ok(());
        };
        let waiter = self.0.waiting.lock().ok().and_then(|mut w| w.remove(id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(data);
        }
        Ok(())
    }
}
