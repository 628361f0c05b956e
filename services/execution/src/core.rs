//! The execution service's API operations (API.md §5): reading executions in the caller's tenant, counting
//! them, retrying, cancelling, and running a flow by hand.

use std::sync::Arc;

use flowmate_auth::Principal;
use flowmate_domain::{
    event::types,
    execution::{TriggerInfo, WorkItem},
    time, Envelope, Id,
};
use serde_json::{json, Value};

use crate::{
    error::{ExecutionError, Result},
    model::{Execution, GroupBy, ListQuery, RunState, Status, Step, Task},
    registry::Registry,
    store::Store,
    SOURCE,
};

/// The operations behind the gRPC API.
pub struct ExecutionCore {
    store: Store,
    registry: Arc<Registry>,
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

fn valid_id(id: &str) -> Result<()> {
    Id::parse(id)
        .map(|_| ())
        .map_err(|_| ExecutionError::Invalid("Invalid id".into()))
}

/// The message a manual run's trigger emits.
fn manual_message(id: &str, body: Value) -> Value {
    json!({"id": id, "data": body, "attachments": {}, "headers": {}, "method": "POST",
           "metadata": {"source": {"name": "manual", "type": "manual", "externalExecId": id}}})
}

impl ExecutionCore {
    /// Operations over `store`; work is queued through its outbox.
    pub fn new(store: Store, registry: Arc<Registry>) -> Self {
        ExecutionCore { store, registry }
    }

    /// A page of executions in the caller's scope (newest first unless `ascending`).
    pub async fn list(&self, caller: &Principal, mut q: ListQuery) -> Result<(Vec<Execution>, u64)> {
        require(caller, "executions.read")?;
        q.tenant = scope(caller);
        Ok(self.store.list(&q).await?)
    }

    async fn visible(&self, caller: &Principal, id: &str) -> Result<Execution> {
        valid_id(id)?;
        let execution = self.store.execution(id).await?.ok_or(ExecutionError::NotFound)?;
        match scope(caller) {
            Some(tenant) if tenant != execution.tenant => Err(ExecutionError::NotFound),
            _ => Ok(execution),
        }
    }

    /// One execution with its steps.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<(Execution, Vec<Step>)> {
        require(caller, "executions.read")?;
        let execution = self.visible(caller, id).await?;
        let steps = self.store.steps(id).await?;
        Ok((execution, steps))
    }

    /// Executions started in `[start, end)` in the caller's tenant, grouped.
    pub async fn count(&self, caller: &Principal, start: &str, end: &str, by: GroupBy) -> Result<Value> {
        require(caller, "executions.read")?;
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
        require(caller, "flows.control")?;
        let execution = self.visible(caller, id).await?;
        if execution.status.is_final() {
            return Err(ExecutionError::Conflict(format!(
                "Execution is already {}.",
                execution.status.as_str()
            )));
        }
        if !self.store.cancel(id).await? {
            return Err(ExecutionError::Conflict("Execution has already finished.".into()));
        }
        self.visible(caller, id).await
    }

    /// Runs a finished execution again: `from = "start"` with the same trigger message, `"failed"` from the
    /// steps that failed (earlier outputs stay available as `$steps`). Returns the new execution, queued.
    pub async fn retry(&self, caller: &Principal, id: &str, from: &str) -> Result<Execution> {
        require(caller, "flows.control")?;
        let original = self.visible(caller, id).await?;
        if !original.status.is_final() {
            return Err(ExecutionError::Conflict("Execution is still running.".into()));
        }
        let plan = self
            .registry
            .get(&original.flow_id)
            .await?
            .ok_or_else(|| ExecutionError::FlowNotActive(original.flow_id.clone()))?;
        let new_id = Id::new().into_string();
        let trigger = TriggerInfo {
            kind: "retry".into(),
            request_id: None,
            retry_of: Some(original.id.clone()),
        };
        let queued = Execution {
            id: new_id.clone(),
            flow_id: original.flow_id.clone(),
            flow_version: plan.flow.version,
            tenant: original.tenant.clone(),
            user: caller.user_id().to_owned(),
            status: Status::Queued,
            trigger: trigger.clone(),
            started_at: time::now_string(),
            finished_at: None,
            duration_ms: None,
            counters: Default::default(),
            error: None,
            response: None,
            message: original.message.clone(),
            state: None,
            waiting_until: None,
            owner: None,
            generation: 0,
        };
        match from {
            "" | "start" => {
                self.queue(&plan, new_id, trigger, original.message.clone(), caller.user_id())
                    .await
            }
            "failed" => {
                let Some(state) = original.state.filter(|_| original.status == Status::Failed) else {
                    return Err(ExecutionError::Conflict(
                        "Only a failed execution can be retried from its failed steps.".into(),
                    ));
                };
                if state.failed.is_empty() {
                    return Err(ExecutionError::Conflict(
                        "This execution has no failed step to run again (it failed on an edge); retry it from the start."
                            .into(),
                    ));
                }
                let tasks = state
                    .failed
                    .into_iter()
                    .map(|t| Task {
                        attempt: 1,
                        due: None,
                        waited: false,
                        ..t
                    })
                    .collect();
                let resume = Envelope::new(
                    types::EXECUTION_RESUME,
                    SOURCE,
                    json!({"executionId": new_id, "generation": 0}),
                )
                .with_tenant(queued.tenant.clone());
                let queued = Execution {
                    state: Some(RunState {
                        tasks,
                        outputs: state.outputs,
                        ..RunState::default()
                    }),
                    owner: Some(resume.id.clone()),
                    ..queued
                };
                self.store.insert_queued(&queued, &resume).await?;
                Ok(queued)
            }
            _ => Err(ExecutionError::Invalid(
                "from must be \"start\" or \"failed\"".into(),
            )),
        }
    }

    /// Triggers an active flow by hand with `body` as data.
    pub async fn run(&self, caller: &Principal, flow_id: &str, body: Value) -> Result<Execution> {
        require(caller, "flows.control")?;
        valid_id(flow_id)?;
        let plan = self
            .registry
            .get(flow_id)
            .await?
            .ok_or_else(|| ExecutionError::FlowNotActive(flow_id.to_owned()))?;
        let flow = &plan.flow;
        let visible = caller.is_admin()
            || flow.body.tenant == caller.tenant()
            || flow.is_owned_by_any(&[caller.user_id(), caller.tenant()]);
        if !visible {
            return Err(ExecutionError::FlowNotActive(flow_id.to_owned()));
        }
        let id = Id::new().into_string();
        let trigger = TriggerInfo {
            kind: "manual".into(),
            request_id: Some(id.clone()),
            retry_of: None,
        };
        let message = manual_message(&id, body);
        self.queue(&plan, id, trigger, message, caller.user_id()).await
    }

    /// Records a queued execution of `plan` and, in the same transaction, its trigger on the work queue: it is
    /// visible (and cancellable) from this moment, and cannot be lost.
    async fn queue(
        &self,
        plan: &crate::plan::Plan,
        id: String,
        trigger: TriggerInfo,
        message: Value,
        user: &str,
    ) -> Result<Execution> {
        let flow = &plan.flow;
        let item = WorkItem {
            execution_id: id.clone(),
            flow_id: flow.id.clone(),
            trigger: trigger.clone(),
            message: message.clone(),
            user: Some(user.to_owned()),
            reply_to: None,
        };
        let data = serde_json::to_value(&item).map_err(|e| ExecutionError::Internal(e.to_string()))?;
        let event = Envelope::new(types::FLOW_EXECUTE, SOURCE, data).with_tenant(flow.body.tenant.clone());
        let execution = Execution {
            id,
            flow_id: flow.id.clone(),
            flow_version: flow.version,
            tenant: flow.body.tenant.clone(),
            user: user.to_owned(),
            status: Status::Queued,
            trigger,
            started_at: time::now_string(),
            finished_at: None,
            duration_ms: None,
            counters: Default::default(),
            error: None,
            response: None,
            message: message.clone(),
            state: Some(RunState {
                tasks: std::iter::once(Task {
                    node: plan.trigger.clone(),
                    msg: message,
                    attempt: 1,
                    due: None,
                    waited: false,
                })
                .collect(),
                ..RunState::default()
            }),
            waiting_until: None,
            owner: Some(event.id.clone()),
            generation: 0,
        };
        self.store.insert_queued(&execution, &event).await?;
        Ok(execution)
    }
}
