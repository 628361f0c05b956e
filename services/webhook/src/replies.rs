//! Sync webhooks wait here for their execution: the work item names this replica's reply routing key, the
//! execution service publishes a copy of `execution.finished` with it, and this replica's own queue delivers it to
//! the waiting requests (several may wait for one execution: a repeated Idempotency-Key), and [`sync_reply`] turns
//! the execution's result into the HTTP answer.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::event::payload::{ExecutionFinished, Payload};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::deliver::Reply;

type Waiters = HashMap<String, Vec<(u64, oneshot::Sender<ExecutionFinished>)>>;

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
    pub result: oneshot::Receiver<ExecutionFinished>,
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
        let data = ExecutionFinished::from_data(&delivery.envelope.data)
            .map_err(|e| HandlerError::Reject(format!("not an execution reply: {e}")))?;
        let id = data.execution_id.as_str();
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

/// The answer of a sync webhook: the `respond` step's status, headers and body, else the last step's data.
pub fn sync_reply(result: &ExecutionFinished, request_id: &str) -> Reply {
    if let Some(response) = result.response.as_ref().filter(|r| r.is_object()) {
        let status = response
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..600).contains(s))
            .unwrap_or(200);
        let mut headers: Vec<(String, String)> = response
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                        (k.to_ascii_lowercase(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A flow decides its reply's body, not the API origin's security: no cookies, no hop-by-hop headers, and
        // the content is sandboxed so it can never run as a page of this origin.
        headers.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "set-cookie"
                    | "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "upgrade"
                    | "content-length"
                    | "trailer"
                    | "te"
                    | "content-security-policy"
                    | "x-content-type-options"
            )
        });
        headers.push(("x-content-type-options".into(), "nosniff".into()));
        headers.push(("content-security-policy".into(), "sandbox".into()));
        let has_type = headers.iter().any(|(k, _)| k == "content-type");
        let body = match response.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => {
                if !has_type {
                    headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
                }
                s.clone().into_bytes()
            }
            Some(other) => {
                if !has_type {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                other.to_string().into_bytes()
            }
        };
        return Reply {
            status,
            headers,
            body,
        };
    }
    if result.status == "succeeded" {
        return Reply::json(200, result.output.as_ref().unwrap_or(&Value::Null));
    }
    Reply::error(
        500,
        &format!("Execution {request_id} failed. See /executions/{request_id}."),
    )
}
