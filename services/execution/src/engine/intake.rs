//! How a message becomes a run: a `flow.execute` starts a new execution (or finds out, at its first write, that its
//! id is taken), an `execution.resume` continues a parked or queued one, and a redelivered owner takes over.

use flowmate_bus::HandlerError;
use flowmate_domain::{
    event::payload::{ExecutionResume, Payload},
    execution::WorkItem,
    time, Envelope, ExecutionId,
};

use super::{worker::retry, Engine};
use crate::{
    model::{Checkpoint, Execution, FlowRef, Gate, RunState, Status, Task, Write},
    plan::Plan,
};

impl Engine {
    /// `flow.execute`: create the execution and run it. A trigger whose execution id is taken — a redelivery of a
    /// trigger whose execution is under way or done, a duplicate, a request id another flow's execution has —
    /// finds out when it first writes, and is handled by [`Engine::collided`].
    pub async fn execute(&self, envelope: Envelope) -> Result<(), HandlerError> {
        if let Some(sent) = time::parse(&envelope.time) {
            let lag = (time::now() - sent).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("flowmate_execution_queue_lag_seconds").record(lag);
        }
        let Envelope {
            id: message_id,
            tenant,
            data,
            ..
        } = envelope;
        let item: WorkItem = serde_json::from_value(data)
            .map_err(|e| HandlerError::Reject(format!("not a work item: {e}")))?;
        ExecutionId::parse(&item.execution_id)
            .map_err(|_| HandlerError::Reject("invalid execution id".into()))?;
        if self.start(&item, tenant.as_deref(), &message_id).await? {
            return Ok(());
        }
        self.collided(item, tenant.as_deref(), &message_id).await
    }

    /// Runs `item` as a new execution owned by message `message_id`. `Ok(false)`: its id was taken, and nothing was
    /// written.
    async fn start(
        &self,
        item: &WorkItem,
        tenant: Option<&str>,
        message_id: &str,
    ) -> Result<bool, HandlerError> {
        let plan = self.registry.get(&item.flow_id).await.map_err(retry)?;
        let execution = new_execution(item, plan.as_deref(), tenant, message_id);
        if let Some(limit) = plan.as_ref().and_then(|p| p.concurrency) {
            // At most `limit` at once: recorded first, running or parked until a slot frees up.
            return match self.store.admit_limited(&execution, limit).await.map_err(retry)? {
                Gate::Taken => Ok(false),
                Gate::Parked => {
                    metrics::counter!("flowmate_executions_parked_total").increment(1);
                    Ok(true)
                }
                Gate::Run => {
                    metrics::counter!("flowmate_executions_started_total").increment(1);
                    let flow_id = execution.flow_id.clone();
                    self.drive(plan, execution, Write::Update).await?;
                    self.wake(&flow_id, limit).await;
                    Ok(true)
                }
            };
        }
        if plan.as_ref().is_some_and(|p| p.long_running) {
            // A step acts outside FlowMate or waits: the execution is recorded before it runs, visible as running,
            // and a redelivery finds it and resumes from its checkpoints. Creating it is the claim on its id.
            let first = Checkpoint::of(Write::Create, execution.clone(), vec![]);
            if !self.store.checkpoint(first).await.map_err(retry)? {
                return Ok(false);
            }
            metrics::counter!("flowmate_executions_started_total").increment(1);
            self.drive(plan, execution, Write::Update).await?;
            return Ok(true);
        }
        // Nothing in the flow acts outside FlowMate: it runs first and is recorded once, finished (a write that
        // creates the execution, or finishes the queued one this message owns). If the id was taken — even by an
        // execution of this message under way, whose checkpoint a take-over continues — the run was in vain and
        // wrote nothing.
        let written = self.drive(plan, execution, Write::Start).await?.is_some();
        if written {
            metrics::counter!("flowmate_executions_started_total").increment(1);
        }
        Ok(written)
    }

    /// The execution id of `item` is taken. By an execution of the same flow: this message continues it if it
    /// owns it (a redelivery), else it is a duplicate and does nothing. By another flow's execution (a caller
    /// chose the request id): the trigger still runs, under an id of its own (its trigger keeps the request id).
    async fn collided(
        &self,
        mut item: WorkItem,
        tenant: Option<&str>,
        message_id: &str,
    ) -> Result<(), HandlerError> {
        let Some(existing) = self.store.execution(&item.execution_id).await.map_err(retry)? else {
            return Err(HandlerError::Retry(format!(
                "execution {} could not be written and does not exist; trying again",
                item.execution_id
            )));
        };
        if existing.flow_id == item.flow_id {
            return self.take_over(existing, message_id).await;
        }
        // The new id is the message's own: unique, and the same when the message is redelivered, so a redelivery
        // finds the execution it started and continues it instead of running the trigger a second time.
        let fresh = ExecutionId::parse(message_id).unwrap_or_else(|_| ExecutionId::new());
        if fresh == item.execution_id {
            return Err(HandlerError::Reject(format!(
                "execution id {fresh} is taken by another flow's execution"
            )));
        }
        tracing::warn!(request_id = %item.execution_id, execution_id = %fresh, flow_id = %item.flow_id,
                       "request id already used by another flow's execution; running under a new id");
        item.trigger
            .request_id
            .get_or_insert_with(|| item.execution_id.to_string());
        item.execution_id = fresh;
        if self.start(&item, tenant, message_id).await? {
            return Ok(());
        }
        // Taken as well: by the execution this message started before it was redelivered, which it continues.
        Box::pin(self.collided(item, tenant, message_id)).await
    }

    /// `execution.resume`: a parked execution is due, or a queued retry starts.
    pub async fn resume(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let resume = ExecutionResume::from_data(&envelope.data)
            .map_err(|e| HandlerError::Reject(format!("not an execution.resume: {e}")))?;
        match self.store.execution(&resume.execution_id).await.map_err(retry)? {
            Some(execution) => self.take_over(execution, &envelope.id).await,
            None => Ok(()),
        }
    }

    /// Continues an existing execution if `envelope` owns it. The owner's message comes back only when its
    /// holder is gone (a crash before the ack, a failed attempt) — the execution resumes from its checkpoint with
    /// a new generation, so a late write of the old holder is discarded. Any other message is a duplicate.
    async fn take_over(&self, mut execution: Execution, message_id: &str) -> Result<(), HandlerError> {
        if execution.status.is_final()
            || execution.waiting_until.is_some()
            || execution.owner.as_deref() != Some(message_id)
        {
            return Ok(());
        }
        let first_run = execution.status == Status::Queued;
        // Even a first run takes the execution with a new generation: a duplicate of its message running at the
        // same time can then never write over it.
        match self
            .store
            .take_over(&execution.id, message_id, execution.generation)
            .await
            .map_err(retry)?
        {
            Some(generation) => execution.generation = generation,
            None => return Ok(()),
        }
        if !first_run {
            tracing::info!(execution_id = %execution.id, "continuing an execution from its checkpoint");
        }
        if execution.state.is_none() {
            // The checkpoint is unreadable: running "nothing" would report a false success.
            return Err(HandlerError::Reject(format!(
                "execution {} has no readable checkpoint",
                execution.id
            )));
        }
        execution.status = Status::Running;
        let plan = self.registry.get(&execution.flow_id).await.map_err(retry)?;
        let limit = plan.as_ref().and_then(|p| p.concurrency);
        if let Some(limit) = limit.filter(|_| first_run) {
            let entered = self
                .store
                .enter_limited(&execution.id, &execution.flow_id, limit)
                .await
                .map_err(retry)?;
            if !entered {
                return Ok(());
            }
        }
        let flow_id = execution.flow_id.clone();
        self.drive(plan, execution, Write::Update).await?;
        if let Some(limit) = limit {
            self.wake(&flow_id, limit).await;
        }
        Ok(())
    }

    /// After an execution of a flow limited to `limit` at once finished (or parked): its slot goes to the oldest
    /// waiting execution. A failure here is only logged: the parked ones check again by themselves.
    pub(crate) async fn wake(&self, flow_id: &str, limit: u32) {
        if let Err(e) = self.store.wake_limited(flow_id, limit).await {
            tracing::warn!(error = %e, flow_id, "could not wake the executions waiting for a slot");
        }
    }
}

/// A new execution of `item`, running, owned by message `message_id`: its first task is the trigger (none when
/// the flow is not active here, which `drive` records as failed).
pub(super) fn new_execution(
    item: &WorkItem,
    plan: Option<&Plan>,
    tenant: Option<&str>,
    message_id: &str,
) -> Execution {
    let (flow, user) = match plan {
        Some(p) => (
            FlowRef {
                id: &item.flow_id,
                version: p.flow.version,
                tenant: &p.flow.body.tenant,
            },
            p.started_by.clone(),
        ),
        None => (
            FlowRef {
                id: &item.flow_id,
                version: 0,
                tenant: tenant.unwrap_or_default(),
            },
            String::new(),
        ),
    };
    let mut state = RunState {
        tasks: plan
            .map(|p| Task::new(p.trigger.clone(), item.message.clone()))
            .into_iter()
            .collect(),
        reply_to: item.reply_to.clone(),
        ..RunState::default()
    };
    if let Some(p) = plan {
        // Recorded with the first checkpoint, so a resume URL handed out is valid from the start.
        super::control::ensure_tokens(p, &mut state);
    }
    Execution::new(
        item.execution_id.clone(),
        flow,
        item.user.clone().unwrap_or(user).into(),
        Status::Running,
        item.trigger.clone(),
        item.message.clone(),
    )
    .with_state(state)
    .with_parent(item.parent.clone())
    .owned_by(message_id)
}
