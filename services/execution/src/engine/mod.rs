//! The engine: takes triggers off the work queue and runs the flow's graph in process (ARCHITECTURE.md "How a
//! webhook becomes an execution").
//!
//! A trigger's message goes along every edge whose condition holds, through the edge's mapper; a step that emits
//! several messages fans out. Steps with outside effects are checkpointed as soon as they finish, so a redelivered
//! trigger resumes after them instead of repeating them. A delay or a retry backoff parks the execution (its
//! state saved with a due time) and the worker moves on; the timers resume it on time, after a restart too. The
//! trigger is acked only after the final state is committed, in the same transaction as `execution.finished` (when a
//! queue is bound to it) and a sync caller's reply.

mod intake;
mod step;

use std::{sync::Arc, time::Instant};

use flowmate_bus::{Delivery, Handler, HandlerError, SharedBus};
use flowmate_domain::{event::types, time, Envelope};
use serde_json::{json, Value};
use tokio::sync::Notify;

use self::step::Attempt;
use crate::{
    components::Runtime,
    model::{Execution, RunState, Status, Step, StepError, Task},
    plan::{Plan, SaveData},
    registry::Registry,
    store::{Checkpoint, Store, Write},
    SOURCE,
};

/// Runs executions.
pub struct Engine {
    store: Store,
    registry: Arc<Registry>,
    runtime: Runtime,
    max_steps: u32,
    max_output_bytes: usize,
    wake: Arc<Notify>,
    bus: SharedBus,
}

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

impl Engine {
    /// An engine over `store`; `wake` is signalled when an execution parks, so the timers re-plan. Its events
    /// go out through the store's outbox to `bus`.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        runtime: Runtime,
        max_steps: u32,
        max_output_bytes: usize,
        wake: Arc<Notify>,
        bus: SharedBus,
    ) -> Engine {
        Engine {
            store,
            registry,
            runtime,
            max_steps,
            max_output_bytes,
            wake,
            bus,
        }
    }

    /// Runs tasks until the execution finishes or parks, then commits. `last` is how the final write goes in: an
    /// [`Write::Update`] of the recorded execution this run holds, or the [`Write::Start`] of a run not recorded
    /// before (its checkpoints in between are of flows with outside effects, which are always recorded first).
    /// Returns whether its last write applied (not: cancelled, taken over meanwhile, its id taken).
    async fn drive(
        &self,
        plan: Option<Arc<Plan>>,
        mut execution: Execution,
        last: Write,
    ) -> Result<bool, HandlerError> {
        let mut state = execution.state.take().unwrap_or_default();
        let mut steps: Vec<Step> = Vec::new();
        let Some(plan) = plan else {
            state.error = Some(StepError::new(
                "FlowNotActive",
                format!("Flow {} either does not exist or is inactive.", execution.flow_id),
            ));
            state.failed.append(&mut state.tasks.drain(..).collect());
            return self.finish(&mut execution, state, steps, None, last).await;
        };
        loop {
            if state.seq >= self.max_steps {
                state.error.get_or_insert_with(|| {
                    StepError::new(
                        "TooManySteps",
                        format!(
                            "the execution ran {} steps, the most one execution may run",
                            self.max_steps
                        ),
                    )
                });
                state.failed.append(&mut state.tasks.drain(..).collect());
                break;
            }
            let now = time::now_string();
            let ready = state
                .tasks
                .iter()
                .position(|t| t.due.as_deref().is_none_or(|d| d <= now.as_str()));
            let Some(index) = ready else {
                if state.tasks.is_empty() {
                    break;
                }
                let until = state.tasks.iter().filter_map(|t| t.due.clone()).min();
                execution.waiting_until = until;
                execution.owner = None; // the timers hand it to a resume message when it is due
                execution.counters = state.counters;
                execution.state = Some(state);
                let cp = Checkpoint {
                    write: Write::Update,
                    execution,
                    steps,
                    events: vec![],
                };
                let written = self.store.checkpoint(cp).await.map_err(HandlerError::Retry)?;
                self.wake.notify_one();
                return Ok(written);
            };
            let Some(task) = state.tasks.remove(index) else {
                break;
            };
            let Some(node) = plan.nodes.get(&task.node) else {
                state.error.get_or_insert_with(|| {
                    StepError::new(
                        "FlowChanged",
                        format!("node {} is no longer in the flow", task.node),
                    )
                });
                state.failed.push(task);
                continue;
            };
            let started_at = time::now_string();
            let clock = Instant::now();
            let attempt = self.attempt(node, &task, &state.outputs).await;
            metrics::histogram!("flowmate_step_duration_seconds", "component" => node.node.component_id.clone())
                .record(clock.elapsed().as_secs_f64());
            match attempt {
                Attempt::Wait(duration) => {
                    let due = time::format(
                        time::now() + chrono::Duration::milliseconds(duration.as_millis() as i64),
                    );
                    state.tasks.push_front(Task {
                        due: Some(due),
                        waited: true,
                        ..task
                    });
                }
                Attempt::Done(outcome) => {
                    let output = match outcome.emitted.as_slice() {
                        [] => Value::Null,
                        [one] => one.clone(),
                        many => Value::Array(many.to_vec()),
                    };
                    if let Value::Object(map) = &mut state.outputs {
                        map.insert(node.node.id.clone(), output.clone());
                    }
                    state.seq += 1;
                    state.counters.started += 1;
                    state.counters.succeeded += 1;
                    steps.push(Step {
                        seq: state.seq,
                        step_id: node.node.id.clone(),
                        component_id: node.node.component_id.clone(),
                        function: node.node.function.clone(),
                        status: "succeeded".into(),
                        attempt: task.attempt,
                        started_at,
                        finished_at: time::now_string(),
                        input: None,
                        output: (plan.save == SaveData::All).then(|| self.clip(&output)),
                        error: None,
                    });
                    if outcome.response.is_some() {
                        state.response = outcome.response;
                    }
                    state.last = Some(output);
                    for data in outcome.emitted {
                        match self.follow(&plan, &node.node.id, &task.msg, data, &state.outputs) {
                            Ok(next) => state.tasks.extend(next),
                            Err(e) => {
                                state.counters.errors += 1;
                                state.error.get_or_insert(e);
                            }
                        }
                    }
                    if node.kind.has_side_effects() {
                        // Its effect happened: a redelivery must not repeat it.
                        execution.counters = state.counters;
                        execution.state = Some(state.clone());
                        let cp = Checkpoint {
                            write: Write::Update,
                            execution: execution.clone(),
                            steps: std::mem::take(&mut steps),
                            events: vec![],
                        };
                        if !self.store.checkpoint(cp).await.map_err(HandlerError::Retry)? {
                            return Ok(false); // cancelled or taken over meanwhile
                        }
                    }
                }
                Attempt::Failed(error) => {
                    state.seq += 1;
                    state.counters.started += 1;
                    state.counters.errors += 1;
                    let keep = plan.save != SaveData::None;
                    steps.push(Step {
                        seq: state.seq,
                        step_id: node.node.id.clone(),
                        component_id: node.node.component_id.clone(),
                        function: node.node.function.clone(),
                        status: "failed".into(),
                        attempt: task.attempt,
                        started_at,
                        finished_at: time::now_string(),
                        input: keep.then(|| self.clip(task.msg.get("data").unwrap_or(&Value::Null))),
                        output: None,
                        error: Some(error.clone()),
                    });
                    if task.attempt < node.retry.max_attempts {
                        let wait = node.retry.backoff_after(task.attempt);
                        let due = time::format(
                            time::now() + chrono::Duration::milliseconds(wait.as_millis() as i64),
                        );
                        tracing::info!(execution_id = %execution.id, node = %node.node.id, attempt = task.attempt,
                                       wait_ms = wait.as_millis() as u64, error = %error.message, "step failed; retrying");
                        state.tasks.push_back(Task {
                            attempt: task.attempt + 1,
                            due: Some(due),
                            ..task
                        });
                    } else {
                        tracing::info!(execution_id = %execution.id, node = %node.node.id, error = %error.message, "step failed");
                        state.error.get_or_insert(error);
                        state.failed.push(Task { due: None, ..task });
                    }
                }
            }
        }
        self.finish(&mut execution, state, steps, Some(&plan), last).await
    }

    /// Commits the final state with its events; the trigger is acked after this returns `Ok`. Returns
    /// whether the write applied.
    async fn finish(
        &self,
        execution: &mut Execution,
        mut state: RunState,
        steps: Vec<Step>,
        plan: Option<&Plan>,
        write: Write,
    ) -> Result<bool, HandlerError> {
        let failed = state.error.is_some() || !state.failed.is_empty();
        let finished = time::now();
        execution.status = if failed { Status::Failed } else { Status::Succeeded };
        execution.finished_at = Some(time::format(finished));
        execution.duration_ms =
            time::parse(&execution.started_at).map(|s| (finished - s).num_milliseconds().max(0));
        execution.counters = state.counters;
        execution.error = state.error.clone();
        execution.response = state.response.clone();
        execution.waiting_until = None;
        let output = match plan.map(|p| p.save) {
            Some(SaveData::All) | None => state.last.clone().map(|v| self.clip(&v)),
            _ => None,
        };
        let data = json!({"executionId": execution.id, "flowId": execution.flow_id, "tenant": execution.tenant,
                          "status": execution.status.as_str(), "output": state.last, "response": state.response,
                          "error": execution.error, "durationMs": execution.duration_ms});
        let mut events = Vec::with_capacity(2);
        if let Some(reply_to) = state.reply_to.take() {
            events.push(Envelope::new(reply_to, SOURCE, data.clone()).with_tenant(execution.tenant.clone()));
        }
        // The embedded queue drops an event no group is bound to; not writing it saves the outbox row and the
        // relay's round (standalone has no `execution.finished` consumer unless one subscribes). Bindings are
        // looked at when the execution commits: a queue bound between then and the relay's publish misses it.
        if self.bus.routes(types::EXECUTION_FINISHED) {
            events.push(
                Envelope::new(types::EXECUTION_FINISHED, SOURCE, data).with_tenant(execution.tenant.clone()),
            );
        }
        // A failed execution keeps what a retry "from failed" needs; a successful one keeps nothing.
        execution.state = failed.then(|| {
            state.tasks.clear();
            state.last = output;
            state
        });
        let cp = Checkpoint {
            write,
            execution: execution.clone(),
            steps,
            events,
        };
        let written = self.store.checkpoint(cp).await.map_err(HandlerError::Retry)?;
        if written {
            metrics::counter!("flowmate_executions_finished_total", "status" => execution.status.as_str())
                .increment(1);
        }
        Ok(written)
    }
}

/// Consumes the work queue: `flow.execute` and `execution.resume`.
pub struct Worker(pub Arc<Engine>);

#[async_trait::async_trait]
impl Handler for Worker {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match delivery.envelope.kind.as_str() {
            types::FLOW_EXECUTE => self.0.execute(delivery.envelope).await,
            types::EXECUTION_RESUME => self.0.resume(&delivery.envelope).await,
            other => Err(HandlerError::Reject(format!("unexpected message {other}"))),
        }
    }
}
