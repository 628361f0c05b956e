//! The status machine (API.md §3): `inactive → starting → active`, `any → stopping → inactive`, and a failed
//! start `starting → stopping → inactive` with `statusReason`. Start and stop come from callers; `flow.started`,
//! `flow.stopped` and `flow.failed` come from the execution service and are applied once per event id.

use async_trait::async_trait;
use flowmate_auth::Principal;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::permissions;
use flowmate_domain::{
    event::{
        payload::{FlowFailed, FlowStarted, FlowStarting, FlowStopped, Payload},
        types,
    },
    flow::{Flow, FlowStatus},
    Envelope, Fault,
};

use crate::{
    core::{require, FlowCore, SOURCE},
    error::{FlowError, Result},
    model::{Outcome, Reason, Transition},
};

use FlowStatus::*;

/// `flow.starting`: the full flow plus who started it.
fn starting_event(flow: &Flow, started_by: &str) -> Envelope {
    let data = FlowStarting {
        flow: flow.clone(),
        started_by: started_by.to_owned(),
    };
    Envelope::new(types::FLOW_STARTING, SOURCE, data.to_data()).with_tenant(&flow.body.tenant)
}

/// `flow.stopping`: the full flow.
fn stopping_event(flow: &Flow) -> Envelope {
    Envelope::new(types::FLOW_STOPPING, SOURCE, flow.to_data()).with_tenant(&flow.body.tenant)
}

impl FlowCore {
    /// Starts each flow: `starting` and `flow.starting`. An active flow stays `active`. One result per id.
    pub async fn start(&self, caller: &Principal, ids: &[String]) -> Result<Vec<Result<FlowStatus, Fault>>> {
        require(caller, permissions::FLOWS_CONTROL)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.start_one(caller, id).await.map_err(Fault::from));
        }
        Ok(out)
    }

    async fn start_one(&self, caller: &Principal, id: &str) -> Result<FlowStatus> {
        let flow = self.visible(caller, id, FlowError::NoFlowWithId).await?;
        if flow.status == Active {
            return Ok(Active);
        }
        let started_by = caller.user_id().to_owned();
        let announce = move |f: &Flow| starting_event(f, &started_by);
        let transition = Transition {
            from: &[Inactive, Starting, Stopping],
            to: Starting,
            reason: Reason::Clear,
            announce: Some(&announce),
            event_id: None,
        };
        status_of(self.store.transition(id, transition).await?)
    }

    /// Stops each flow: `stopping` and `flow.stopping`. One result per id. The answer is always `stopping`, as in
    /// OIH: an inactive flow stays `inactive` (there is nothing to stop, so nothing is announced).
    pub async fn stop(&self, caller: &Principal, ids: &[String]) -> Result<Vec<Result<FlowStatus, Fault>>> {
        require(caller, permissions::FLOWS_CONTROL)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.stop_one(caller, id).await.map_err(Fault::from));
        }
        Ok(out)
    }

    async fn stop_one(&self, caller: &Principal, id: &str) -> Result<FlowStatus> {
        let flow = self.visible(caller, id, FlowError::NoFlowWithId).await?;
        if flow.status == Inactive {
            return Ok(Stopping);
        }
        let transition = Transition {
            from: &[Starting, Active, Stopping],
            to: Stopping,
            reason: Reason::Keep,
            announce: Some(&stopping_event),
            event_id: None,
        };
        status_of(self.store.transition(id, transition).await?)
    }

    /// Applies a confirmation from the execution service, once per event id. Confirmations that no longer fit the
    /// flow's state (it was stopped meanwhile) are ignored.
    pub async fn confirm(&self, event: &Envelope, flow_id: &str, reason: Option<String>) -> Result<()> {
        let transition = match event.kind.as_str() {
            types::FLOW_STARTED => Transition {
                from: &[Starting],
                to: Active,
                reason: Reason::Clear,
                announce: None,
                event_id: Some(&event.id),
            },
            types::FLOW_STOPPED => Transition {
                from: &[Stopping],
                to: Inactive,
                reason: Reason::Keep,
                announce: None,
                event_id: Some(&event.id),
            },
            types::FLOW_FAILED => Transition {
                from: &[Starting],
                to: Stopping,
                reason: Reason::Set(reason.unwrap_or_else(|| "the flow could not be started".into())),
                announce: Some(&stopping_event),
                event_id: Some(&event.id),
            },
            _ => return Ok(()),
        };
        match self.store.transition(flow_id, transition).await? {
            Outcome::Changed(flow) => {
                tracing::info!(flow_id, status = flow.status.as_str(), kind = %event.kind, "flow status confirmed");
            }
            Outcome::Unchanged(flow) => {
                tracing::debug!(flow_id, status = flow.status.as_str(), kind = %event.kind, "confirmation ignored");
            }
            Outcome::Duplicate | Outcome::Missing => {}
        }
        Ok(())
    }

    /// Those of `ids` (at most 1000) that are active, for other services catching up with one flow.
    pub async fn active_by_ids(&self, ids: &[String]) -> Result<Vec<Flow>> {
        self.store.active_by_ids(&ids[..ids.len().min(1000)]).await
    }

    /// Active flows after `after` (by id), for other services' warm starts.
    pub async fn list_active(&self, after: &str, limit: u32) -> Result<Vec<Flow>> {
        self.store.list_active(after, limit.clamp(1, 1000)).await
    }
}

fn status_of(outcome: Outcome) -> Result<FlowStatus> {
    match outcome {
        Outcome::Changed(flow) | Outcome::Unchanged(flow) => Ok(flow.status),
        Outcome::Duplicate => Err(FlowError::Internal("unexpected duplicate".into())),
        Outcome::Missing => Err(FlowError::NoFlowWithId),
    }
}

/// Consumes `flow.started`, `flow.stopped` and `flow.failed`.
pub struct Confirmations(pub std::sync::Arc<FlowCore>);

#[async_trait]
impl Handler for Confirmations {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let event = &delivery.envelope;
        let malformed = |e: String| HandlerError::Reject(format!("{}: {e}", event.kind));
        let (flow_id, reason) = match event.kind.as_str() {
            types::FLOW_STARTED => (
                FlowStarted::from_data(&event.data).map_err(malformed)?.flow_id,
                None,
            ),
            types::FLOW_STOPPED => (
                FlowStopped::from_data(&event.data).map_err(malformed)?.flow_id,
                None,
            ),
            types::FLOW_FAILED => {
                let failed = FlowFailed::from_data(&event.data).map_err(malformed)?;
                (failed.flow_id, Some(failed.reason))
            }
            _ => return Ok(()),
        };
        self.0
            .confirm(event, &flow_id, reason)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}

/// How long processed confirmation ids are remembered (redeliveries come within minutes).
const REMEMBER_EVENTS: chrono::Duration = chrono::Duration::days(7);

/// Forgets old processed event ids every hour until `shutdown`.
pub fn start_pruning(
    core: std::sync::Arc<FlowCore>,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let before = flowmate_domain::time::format(flowmate_domain::time::now() - REMEMBER_EVENTS);
            match core.store.prune_processed(&before).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "pruned processed event ids"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning processed event ids failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            }
        }
    })
}
