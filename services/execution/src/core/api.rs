//! The execution service's API operations (API.md §5): reading executions in the caller's tenant, counting
//! them, retrying, cancelling, and running a flow by hand.

use std::sync::Arc;

use flowmate_auth::Principal;
use flowmate_domain::{
    event::types,
    execution::{TriggerInfo, WorkItem},
    Envelope, ExecutionId, Id,
};
use serde_json::{json, Value};

use flowmate_domain::permissions;

use crate::{
    components::code::CodeRunner,
    credentials::Credentials,
    error::{Conflict, ExecutionError, Result},
    model::{
        Admission, Execution, ExecutionStore, FlowRef, GroupBy, ListQuery, RetryFrom, RunState, Status, Step,
        Task,
    },
    plan::Plan,
    registry::Registry,
    SOURCE,
};

/// The operations behind the gRPC API.
pub struct ExecutionCore {
    pub(super) store: Arc<dyn ExecutionStore>,
    pub(super) registry: Arc<Registry>,
    /// Compiles code steps when a flow starts.
    pub(super) code: CodeRunner,
    /// The secret service, for the start-time check of the secrets nodes name.
    pub(super) credentials: Option<Arc<Credentials>>,
    /// Signalled when a resume is recorded, so the timers hand the parked execution on at once.
    pub(super) wake: Option<Arc<tokio::sync::Notify>>,
}

fn require(caller: &Principal, permission: &str) -> Result<()> {
    if caller.can(permission) {
        Ok(())
    } else {
        Err(ExecutionError::MissingPermission)
    }
}

/// The tenant a caller is limited to (`None`: a global admin sees every tenant).
fn scope(caller: &Principal) -> Option<String> {
    (!caller.is_admin()).then(|| caller.tenant().to_owned())
}

pub(super) fn valid_id(id: &str) -> Result<()> {
    Id::parse(id).map(|_| ()).map_err(|_| ExecutionError::InvalidId)
}

/// The message a manual run's trigger emits.
fn manual_message(id: &str, body: Value) -> Value {
    json!({"id": id, "data": body, "attachments": {}, "headers": {}, "method": "POST",
           "metadata": {"source": {"name": "manual", "type": "manual", "externalExecId": id}}})
}

impl ExecutionCore {
    /// Operations over `store`; work is queued through its outbox.
    pub fn new(store: Arc<dyn ExecutionStore>, registry: Arc<Registry>, code: CodeRunner) -> Self {
        ExecutionCore {
            store,
            registry,
            code,
            credentials: None,
            wake: None,
        }
    }

    /// Signals `wake` when a resume is recorded (the timers look at parked executions again).
    pub fn with_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Checks the secrets a starting flow's nodes name with `credentials` (the secret service).
    pub fn with_credentials(mut self, credentials: Arc<Credentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A page of executions in the caller's scope (newest first unless `ascending`).
    pub async fn list(&self, caller: &Principal, mut q: ListQuery) -> Result<(Vec<Execution>, u64)> {
        require(caller, permissions::EXECUTIONS_READ)?;
        q.tenant = scope(caller);
        Ok(self.store.list(&q).await?)
    }

    async fn visible(&self, caller: &Principal, id: &str) -> Result<Execution> {
        valid_id(id)?;
        let execution = self.store.execution(id).await?.ok_or(ExecutionError::NotFound)?;
        match scope(caller) {
            Some(tenant) if execution.tenant != tenant => Err(ExecutionError::NotFound),
            _ => Ok(execution),
        }
    }

    /// One execution with its steps and the ids of the executions it called (`flow.call`).
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<(Execution, Vec<Step>, Vec<String>)> {
        require(caller, permissions::EXECUTIONS_READ)?;
        let execution = self.visible(caller, id).await?;
        let steps = self.store.steps(id).await?;
        let children = self.children(id).await?;
        Ok((execution, steps, children))
    }

    /// Executions started in `[start, end)` in the caller's tenant, grouped.
    pub async fn count(&self, caller: &Principal, start: &str, end: &str, by: GroupBy) -> Result<Value> {
        require(caller, permissions::EXECUTIONS_READ)?;
        let tenant = Some(caller.tenant().to_owned()).filter(|_| !caller.is_admin());
        let rows = self.store.count(tenant.as_deref(), start, end, by).await?;
        Ok(Value::Array(
            rows.into_iter()
                .map(|(k, n)| json!({ by.key(): k, "count": n }))
                .collect(),
        ))
    }

    /// Cancels a queued or running execution.
    pub async fn cancel(&self, caller: &Principal, id: &str) -> Result<Execution> {
        require(caller, permissions::FLOWS_CONTROL)?;
        let execution = self.visible(caller, id).await?;
        if execution.status.is_final() {
            return Err(Conflict::AlreadyFinal(execution.status).into());
        }
        if !self.store.cancel(id).await? {
            return Err(Conflict::FinishedMeanwhile.into());
        }
        // A cancelled execution of a flow with a concurrency limit frees its slot (or its place in line).
        if let Ok(Some(plan)) = self.registry.get(&execution.flow_id).await {
            if let Some(limit) = plan.concurrency {
                if let Err(e) = self.store.wake_limited(&execution.flow_id, limit).await {
                    tracing::warn!(error = %e, "could not wake the executions waiting for a slot");
                }
            }
        }
        self.visible(caller, id).await
    }

    /// Runs a finished execution again: from the start with the same trigger message, or from the steps that
    /// failed (earlier outputs stay available as `$steps`). Returns the new execution, queued.
    pub async fn retry(&self, caller: &Principal, id: &str, from: RetryFrom) -> Result<Execution> {
        require(caller, permissions::FLOWS_CONTROL)?;
        let original = self.visible(caller, id).await?;
        if !original.status.is_final() {
            return Err(Conflict::StillRunning.into());
        }
        let plan = self.active_plan(&original.flow_id).await?;
        let trigger = TriggerInfo {
            kind: "retry".into(),
            request_id: None,
            retry_of: Some(original.id.to_string()),
        };
        match from {
            RetryFrom::Start => {
                self.queue(
                    &plan,
                    ExecutionId::new(),
                    trigger,
                    original.message,
                    caller.user_id(),
                )
                .await
            }
            RetryFrom::Failed => {
                let Some(state) = original.state.filter(|_| original.status == Status::Failed) else {
                    return Err(Conflict::NotFailed.into());
                };
                if state.failed.is_empty() {
                    return Err(Conflict::NoFailedStep.into());
                }
                let new_id = ExecutionId::new();
                let resume = Envelope::new(
                    types::EXECUTION_RESUME,
                    SOURCE,
                    json!({"executionId": new_id, "generation": 0}),
                )
                .with_tenant(original.tenant.clone());
                let flow = FlowRef {
                    id: &original.flow_id,
                    version: plan.flow.version,
                    tenant: &original.tenant,
                };
                let queued = Execution::new(
                    new_id,
                    flow,
                    caller.user_id().into(),
                    Status::Queued,
                    trigger,
                    original.message.clone(),
                )
                .with_state(RunState {
                    tasks: state.failed.into_iter().map(Task::again).collect(),
                    outputs: state.outputs,
                    ..RunState::default()
                })
                .owned_by(resume.id.clone());
                admitted(self.store.insert_queued(&queued, &resume).await?)?;
                Ok(queued)
            }
        }
    }

    /// The plan of a flow that runs here.
    async fn active_plan(&self, flow_id: &str) -> Result<Arc<Plan>> {
        self.registry
            .get(flow_id)
            .await?
            .ok_or_else(|| ExecutionError::FlowNotActive {
                flow_id: flow_id.to_owned(),
            })
    }

    /// Triggers an active flow by hand with `body` as data.
    pub async fn run(&self, caller: &Principal, flow_id: &str, body: Value) -> Result<Execution> {
        require(caller, permissions::FLOWS_CONTROL)?;
        valid_id(flow_id)?;
        let plan = self.active_plan(flow_id).await?;
        let flow = &plan.flow;
        let visible = caller.is_admin()
            || flow.body.tenant == caller.tenant()
            || flow.is_owned_by_any(&[caller.user_id(), caller.tenant()]);
        if !visible {
            return Err(ExecutionError::FlowNotActive {
                flow_id: flow_id.to_owned(),
            });
        }
        let id = ExecutionId::new();
        let trigger = TriggerInfo {
            kind: "manual".into(),
            request_id: Some(id.to_string()),
            retry_of: None,
        };
        let message = manual_message(&id, body);
        self.queue(&plan, id, trigger, message, caller.user_id()).await
    }

    /// Records a queued execution of `plan` and, in the same transaction, its trigger on the work queue: it is
    /// visible (and cancellable) from this moment, and cannot be lost.
    async fn queue(
        &self,
        plan: &Plan,
        id: ExecutionId,
        trigger: TriggerInfo,
        message: Value,
        user: &str,
    ) -> Result<Execution> {
        let item = WorkItem {
            execution_id: id,
            flow_id: plan.flow.id.clone(),
            trigger,
            message,
            user: Some(user.to_owned()),
            reply_to: None,
            parent: None,
        };
        let (execution, event) = queued_work(plan, &item)?;
        admitted(self.store.insert_queued(&execution, &event).await?)?;
        Ok(execution)
    }
}

/// The queued execution of work `item` of `plan` (its user the item's, else whoever started the flow), and its
/// work message, which owns it.
pub(super) fn queued_work(plan: &Plan, item: &WorkItem) -> Result<(Execution, Envelope)> {
    let flow = &plan.flow;
    let event = Envelope::new(types::FLOW_EXECUTE, SOURCE, serde_json::to_value(item)?)
        .with_tenant(flow.body.tenant.clone());
    let flow_ref = FlowRef {
        id: &flow.id,
        version: flow.version,
        tenant: &flow.body.tenant,
    };
    let user = item.user.clone().unwrap_or_else(|| plan.started_by.clone());
    let mut state = RunState::starting([Task::new(plan.trigger.clone(), item.message.clone())]);
    state.reply_to = item.reply_to.clone();
    let execution = Execution::new(
        item.execution_id.clone(),
        flow_ref,
        user.into(),
        Status::Queued,
        item.trigger.clone(),
        item.message.clone(),
    )
    .with_state(state)
    .owned_by(event.id.clone());
    Ok((execution, event))
}

/// A run the tenant's quota refused is a `429` with `Retry-After`.
fn admitted(admission: Admission) -> Result<()> {
    match admission {
        Admission::Limited { retry_after, reason } => {
            metrics::counter!("flowmate_quota_refusals_total", "source" => "run").increment(1);
            Err(ExecutionError::QuotaExceeded { reason, retry_after })
        }
        Admission::Admitted | Admission::Unlimited => Ok(()),
    }
}
