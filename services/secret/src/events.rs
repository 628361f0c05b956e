//! What the secret service learns from flow events: a flow that stops (also after a failed start) or is deleted
//! no longer uses its secrets, so they may be deleted without `force`.

use std::sync::Arc;

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::event::{payload::FlowRef, types};

use crate::model::SecretStore;

/// The durable queue the flow events are consumed from (shared by every replica).
pub const FLOWS_GROUP: &str = "secret.flows";

/// Consumes `flow.stopping` (the whole flow) and `flow.deleted` (`{flowId}`).
pub struct FlowEvents(pub Arc<dyn SecretStore>);

#[async_trait]
impl Handler for FlowEvents {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let e = &delivery.envelope;
        if !matches!(e.kind.as_str(), types::FLOW_STOPPING | types::FLOW_DELETED) {
            return Ok(());
        }
        let Some(id) = FlowRef::of(&e.data) else {
            return Err(HandlerError::Reject(format!("{} without a flow id", e.kind)));
        };
        self.0
            .clear_usage(&id, &e.time)
            .await
            .map_err(|err| HandlerError::Retry(err.to_string()))
    }
}
