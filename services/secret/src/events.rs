//! What the secret service learns from flow events: a flow that stops (also after a failed start) or is deleted
//! no longer uses its secrets, so they may be deleted without `force`.

use std::sync::Arc;

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::event::types;
use serde_json::Value;

use crate::model::SecretStore;

/// The durable queue the flow events are consumed from (shared by every replica).
pub const FLOWS_GROUP: &str = "secret.flows";

/// Consumes `flow.stopping` (the whole flow) and `flow.deleted` (`{flowId}`).
pub struct FlowEvents(pub Arc<dyn SecretStore>);

#[async_trait]
impl Handler for FlowEvents {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let e = &delivery.envelope;
        let id = match e.kind.as_str() {
            types::FLOW_STOPPING => e.data.get("id"),
            types::FLOW_DELETED => e.data.get("flowId"),
            _ => return Ok(()),
        };
        let Some(id) = id.and_then(Value::as_str) else {
            return Err(HandlerError::Reject(format!("{} without a flow id", e.kind)));
        };
        self.0
            .clear_usage(id, &e.time)
            .await
            .map_err(|err| HandlerError::Retry(err.to_string()))
    }
}
