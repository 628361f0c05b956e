//! Starting and stopping flows (API.md §3 status machine, ARCHITECTURE.md "Starting a flow"): a started flow is
//! checked (components, the one trigger, expressions, the cron) and registered — the running-flow row and its
//! schedule — with `flow.started`, or refused with `flow.failed` naming the node and the problem; a stopped flow is
//! unregistered with `flow.stopped`. Each decision and its event commit together (outbox). Decisions apply in the
//! order of the events that caused them, so a late `flow.starting` cannot resurrect a stopped flow.

use flowmate_domain::{
    event::{
        payload::{FlowFailed, FlowStarted, FlowStopped, Payload},
        types,
    },
    flow::{Flow, OwnerKind},
    time, Envelope,
};
use serde_json::Value;

use super::ExecutionCore;
use crate::{
    components::{code::Failure, Kind},
    error::{ExecutionError, Result},
    model::{Apply, FlowRegistration, Schedule},
    plan::{Plan, PlanError},
    SOURCE,
};

/// Who started the flow: `startedBy` in the event, else its first user owner.
pub fn started_by(flow: &Flow, data: &Value) -> String {
    data.get("startedBy")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            flow.body
                .owners
                .iter()
                .find(|o| o.kind == OwnerKind::User)
                .map(|o| o.id.clone())
        })
        .unwrap_or_default()
}

/// The next tick of a cron flow, from now.
fn schedule_of(plan: &Plan) -> Option<Schedule> {
    let cron = plan.flow.body.cron.as_ref()?;
    let next = flowmate_domain::cron::parse(cron)?.next_after(time::now())?;
    Some(Schedule {
        cron: cron.clone(),
        next_due: time::format(next),
    })
}

impl ExecutionCore {
    /// `flow.starting` (sent at `event_time`, carrying the flow document `data`): registers the flow if it can run
    /// (`flow.started`), else records it as not running (`flow.failed` with the reason).
    pub async fn flow_starting(&self, flow: &Flow, data: &Value, event_time: &str) -> Result<()> {
        let by = started_by(flow, data);
        let compiled = match Plan::compile(flow, &by) {
            Ok(plan) => match match self.check_code(plan).await? {
                Ok(plan) => self.check_calls(plan).await?,
                Err(e) => Err(e),
            } {
                Ok(plan) => self
                    .check_credentials(flow, &by, event_time)
                    .await?
                    .map(|()| plan),
                Err(reason) => Err(reason.to_string()),
            },
            Err(reason) => Err(reason.to_string()),
        };
        let registration = FlowRegistration {
            id: flow.id.to_string(),
            tenant: flow.body.tenant.clone(),
            started_by: by,
            version: flow.version,
            document: data.clone(),
            active: compiled.is_ok(),
            changed_at: event_time.to_owned(),
            schedule: compiled.as_ref().ok().and_then(schedule_of),
        };
        let reply = match &compiled {
            Ok(_) => Envelope::new(
                types::FLOW_STARTED,
                SOURCE,
                FlowStarted {
                    flow_id: flow.id.to_string(),
                    version: flow.version,
                }
                .to_data(),
            ),
            Err(reason) => {
                tracing::info!(flow_id = %flow.id, %reason, "flow cannot start");
                Envelope::new(
                    types::FLOW_FAILED,
                    SOURCE,
                    FlowFailed {
                        flow_id: flow.id.to_string(),
                        reason: reason.to_string(),
                    }
                    .to_data(),
                )
            }
        }
        .with_tenant(&flow.body.tenant);
        let applied = self
            .store
            .register_flow(&registration, Apply::UnlessNewer, Some(&reply))
            .await?;
        if applied {
            self.registry.invalidate(&flow.id);
            if compiled.is_ok() {
                tracing::info!(flow_id = %flow.id, "flow started");
            }
        }
        Ok(())
    }

    /// Every `flow.call` names the flow itself or an active flow of its tenant (a flow must be started before the
    /// flows that call it). Another tenant's flow gets the same answer as one that does not exist.
    async fn check_calls(&self, plan: Plan) -> Result<std::result::Result<Plan, PlanError>> {
        for node in plan.nodes.values().filter(|n| n.kind == Kind::FlowCall) {
            let target = node
                .node
                .fields
                .get("flowId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if target == plan.flow.id.as_str() {
                continue;
            }
            let known = self
                .registry
                .get(target)
                .await?
                .is_some_and(|p| p.flow.body.tenant == plan.flow.body.tenant);
            if !known {
                return Ok(Err(PlanError::Node {
                    node: node.node.id.clone(),
                    problem: format!(
                        "fields.flowId: {target} is not an active flow of this tenant (start the called flow first)"
                    ),
                }));
            }
        }
        Ok(Ok(plan))
    }

    /// Compiles every code step of `plan` in the sandbox: the plan, or the first node whose code does not
    /// compile (its line and column in the reason).
    async fn check_code(&self, plan: Plan) -> Result<Result<Plan, PlanError>> {
        for node in plan.nodes.values().filter(|n| n.kind == Kind::Code) {
            let code = node
                .node
                .fields
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match self.code.check(code).await {
                Ok(()) => {}
                Err(Failure::Syntax {
                    message,
                    line,
                    column,
                }) => {
                    return Ok(Err(PlanError::Node {
                        node: node.node.id.clone(),
                        problem: format!(
                        "fields.code does not compile: SyntaxError: {message} (line {line}, column {column})"
                    ),
                    }))
                }
                Err(Failure::Thrown { name, message, .. }) => {
                    return Ok(Err(PlanError::Node {
                        node: node.node.id.clone(),
                        problem: format!("fields.code does not compile: {name}: {message}"),
                    }))
                }
                Err(other) => return Err(ExecutionError::Sandbox(format!("{other:?}"))),
            }
        }
        Ok(Ok(plan))
    }

    /// The credential part of the start check: `Err(reason)` when a node names a secret that does not exist,
    /// belongs to another tenant or has a type its component cannot use. A secret service that cannot answer
    /// makes the start wait (the event is retried).
    async fn check_credentials(
        &self,
        flow: &Flow,
        by: &str,
        at: &str,
    ) -> Result<std::result::Result<(), String>> {
        let uses = crate::credentials::uses_of(flow);
        if uses.is_empty() {
            return Ok(Ok(()));
        }
        let Some(credentials) = &self.credentials else {
            return Ok(Err(
                "the flow names secrets but no secret service is configured".into()
            ));
        };
        match credentials.check(&flow.id, &flow.body.tenant, by, at, uses).await {
            Ok(None) => Ok(Ok(())),
            Ok(Some(reason)) => Ok(Err(reason)),
            Err(status) => Err(ExecutionError::Unavailable {
                service: "secret",
                cause: status.message().to_owned(),
            }),
        }
    }

    /// `flow.stopping` of flow `id` (sent at `event_time` with the event's `data`): unregisters it
    /// (`flow.stopped`).
    pub async fn flow_stopping(&self, flow: &Flow, data: &Value, event_time: &str) -> Result<()> {
        let (id, tenant) = (flow.id.as_str(), flow.body.tenant.as_str());
        let registration = FlowRegistration {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            started_by: String::new(),
            version: flow.version,
            document: data.clone(),
            active: false,
            changed_at: event_time.to_owned(),
            schedule: None,
        };
        let stopped = FlowStopped {
            flow_id: id.to_owned(),
        };
        let reply = Envelope::new(types::FLOW_STOPPED, SOURCE, stopped.to_data()).with_tenant(tenant);
        if self
            .store
            .register_flow(&registration, Apply::UnlessNewer, Some(&reply))
            .await?
        {
            self.registry.invalidate(id);
            tracing::info!(flow_id = id, "flow stopped");
        }
        Ok(())
    }

    /// Ids of the flows this service runs.
    pub async fn running_flow_ids(&self) -> Result<Vec<String>> {
        Ok(self.store.running_ids().await?)
    }

    /// Registers a flow the flow repository lists as active that this service knows nothing about (its database
    /// was restored or replaced), without events. Returns whether it did.
    pub async fn adopt_active(&self, flow: &Flow, data: &Value) -> Result<bool> {
        let by = started_by(flow, data);
        let Ok(plan) = Plan::compile(flow, &by) else {
            tracing::warn!(flow_id = %flow.id, "an active flow no longer compiles; not registered");
            return Ok(false);
        };
        let registration = FlowRegistration {
            id: flow.id.to_string(),
            tenant: flow.body.tenant.clone(),
            started_by: by,
            version: flow.version,
            document: data.clone(),
            active: true,
            changed_at: flow.updated_at.clone(),
            schedule: schedule_of(&plan),
        };
        let added = self
            .store
            .register_flow(&registration, Apply::IfUnknown, None)
            .await?;
        if added {
            self.registry.invalidate(&flow.id);
        }
        Ok(added)
    }
}
