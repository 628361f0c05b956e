//! What the execution service consumes from the bus besides triggers: `flow.starting` / `flow.stopping` (the
//! lifecycle decisions, in the core), children's results (`execution.child.done`) and other replicas'
//! `flow.started` / `flow.stopped` (dropping cached plans).

use std::sync::Arc;

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::{
    event::{
        payload::{self, FlowRef, Payload},
        types,
    },
    flow::Flow,
};

use crate::{core::ExecutionCore, registry::Registry};

/// Consumes `flow.starting` and `flow.stopping` (queue `execution.lifecycle`, shared by every replica).
pub struct Lifecycle(pub Arc<ExecutionCore>);

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

#[async_trait]
impl Handler for Lifecycle {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let event = &delivery.envelope;
        match event.kind.as_str() {
            types::FLOW_STARTING => {
                let flow: Flow = serde_json::from_value(event.data.clone())
                    .map_err(|e| HandlerError::Reject(format!("flow.starting without a flow: {e}")))?;
                self.0
                    .flow_starting(&flow, &event.data, &event.time)
                    .await
                    .map_err(retry)
            }
            types::FLOW_STOPPING => {
                let flow: Flow = Flow::from_data(&event.data)
                    .map_err(|e| HandlerError::Reject(format!("flow.stopping without a flow: {e}")))?;
                self.0
                    .flow_stopping(&flow, &event.data, &event.time)
                    .await
                    .map_err(retry)
            }
            _ => Ok(()),
        }
    }
}

/// Consumes `execution.child.done` (queue `execution.children`): a child's result resumes its parent.
pub struct ChildDone(pub Arc<ExecutionCore>);

#[async_trait]
impl Handler for ChildDone {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let done = payload::ChildDone::from_data(&delivery.envelope.data)
            .map_err(|e| HandlerError::Reject(format!("not an execution.child.done: {e}")))?;
        self.0.child_done(done).await.map_err(retry)
    }
}

/// Applies other replicas' lifecycle changes to this replica's cache (a queue of this replica's own).
pub struct Invalidations(pub Arc<Registry>);

#[async_trait]
impl Handler for Invalidations {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        if let Some(id) = FlowRef::of(&delivery.envelope.data) {
            self.0.invalidate(&id);
        }
        Ok(())
    }
}
