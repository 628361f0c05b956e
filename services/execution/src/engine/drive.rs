//! Running an execution: take the next task that is due, run it (`step`), record what it did; park the
//! execution when every remaining task waits (a delay, a retry backoff); commit the final state when none is left.
//! Steps with outside effects are checkpointed as soon as they finish.

use std::{sync::Arc, time::Instant};

use flowmate_bus::HandlerError;
use flowmate_domain::{
    event::{
        payload::{ExecutionFinished, Payload},
        types,
    },
    time, Envelope,
};
use serde_json::Value;

use super::{
    step::{Attempt, Frame},
    worker::retry,
    Engine,
};
use crate::{
    components::{Kind, Outcome, StepFailure},
    model::{Checkpoint, Execution, RunState, Status, Step, StepError, StepRecord, Task, Write},
    plan::{NodePlan, Plan, SaveData},
    SOURCE,
};

/// An execution under way: its state, the steps recorded, the events to publish and the resumes applied since
/// its last checkpoint.
pub(super) struct Run {
    pub state: RunState,
    pub steps: Vec<Step>,
    /// Published with the next checkpoint (a `flow.call`'s child).
    pub events: Vec<Envelope>,
    /// Resumes (node, key) applied since the last checkpoint: deleted with the next one.
    pub resumed: Vec<(String, String)>,
    /// `$execution`.
    pub execution: Value,
}

/// What the next task is.
enum Next {
    /// This one is due now.
    Task(Task),
    /// None is due before this time (RFC 3339).
    Later(Option<String>),
    /// None is left.
    Done,
}

impl Run {
    /// Takes the first task that is due.
    fn next(&mut self) -> Next {
        let now = time::now_string();
        let ready = self
            .state
            .tasks
            .iter()
            .position(|t| t.due.as_deref().is_none_or(|d| d <= now.as_str()));
        match ready.and_then(|i| self.state.tasks.remove(i)) {
            Some(task) => Next::Task(task),
            None if self.state.tasks.is_empty() => Next::Done,
            None => Next::Later(self.state.tasks.iter().filter_map(|t| t.due.clone()).min()),
        }
    }

    fn new(state: RunState) -> Run {
        Run {
            state,
            steps: Vec::new(),
            events: Vec::new(),
            resumed: Vec::new(),
            execution: Value::Null,
        }
    }

    /// What the next step sees besides its message.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            outputs: &self.state.outputs,
            execution: &self.execution,
            seq: self.state.seq + 1,
        }
    }

    /// A checkpoint of `execution` carrying what was recorded, published and applied since the last one.
    pub fn checkpoint(&mut self, write: Write, execution: Execution) -> Checkpoint {
        Checkpoint {
            write,
            execution,
            steps: std::mem::take(&mut self.steps),
            events: std::mem::take(&mut self.events),
            resumed: std::mem::take(&mut self.resumed),
        }
    }

    /// Fails every task still to do.
    pub fn abandon(&mut self) {
        let tasks: Vec<Task> = self.state.tasks.drain(..).collect();
        self.state.failed.extend(tasks);
    }
}

/// `duration` from now, as RFC 3339.
pub(super) fn due_in(duration: std::time::Duration) -> String {
    time::format(time::now() + chrono::Duration::milliseconds(duration.as_millis() as i64))
}

impl Engine {
    /// Runs tasks until the execution finishes or parks, then commits. `last` is how the final write goes in: an
    /// [`Write::Update`] of the recorded execution this run holds, or the [`Write::Start`] of a run not recorded
    /// before (its checkpoints in between are of flows with outside effects, which are always recorded first).
    /// Returns the execution's result once its final write applied; `None` when it parked, or was cancelled,
    /// taken over meanwhile or its id taken.
    pub(super) async fn drive(
        &self,
        plan: Option<Arc<Plan>>,
        mut execution: Execution,
        last: Write,
    ) -> Result<Option<ExecutionFinished>, HandlerError> {
        let mut run = Run::new(execution.state.take().unwrap_or_default());
        let Some(plan) = plan else {
            run.state.error = Some(StepError::new(
                "FlowNotActive",
                format!("Flow {} either does not exist or is inactive.", execution.flow_id),
            ));
            run.abandon();
            return self.finish(&mut execution, run, None, last).await;
        };
        super::control::ensure_tokens(&plan, &mut run.state);
        run.execution = self.execution_json(&plan, &execution, &run.state);
        loop {
            if run.state.seq >= self.settings.max_steps {
                let max = self.settings.max_steps;
                run.state.error.get_or_insert_with(|| {
                    StepError::new(
                        "TooManySteps",
                        format!("the execution ran {max} steps, the most one execution may run"),
                    )
                });
                run.abandon();
                break;
            }
            let task = match run.next() {
                Next::Task(task) => task,
                // Before parking or finishing: resumes that came meanwhile, merges whose branches have settled.
                _ if self.settle(&plan, &execution, &mut run).await? => continue,
                Next::Later(until) => return self.park(execution, run, until).await,
                Next::Done => break,
            };
            let Some(node) = plan.nodes.get(&task.node) else {
                run.state.error.get_or_insert_with(|| {
                    StepError::new(
                        "FlowChanged",
                        format!("node {} is no longer in the flow", task.node),
                    )
                });
                run.state.failed.push(task);
                continue;
            };
            let kind = node.kind;
            let go_on = match kind {
                Kind::Merge if !task.merged => {
                    run.arrive(node, task, &execution.message);
                    true
                }
                Kind::WaitEvent if task.resumed.is_none() => {
                    self.wait_event(&plan, node, &mut execution, &mut run, task)
                        .await?
                }
                Kind::FlowCall if task.resumed.is_none() => {
                    self.call(&plan, node, &mut execution, &mut run, task).await?
                }
                _ => self.step(&plan, node, &mut execution, &mut run, task).await?,
            };
            if !go_on {
                return Ok(None); // cancelled or taken over meanwhile
            }
            if kind == Kind::Raise {
                run.abandon(); // error.raise ends the execution: nothing else runs
            }
        }
        self.finish(&mut execution, run, Some(&plan), last).await
    }

    /// Runs one task at `node` and records it. Returns `false` when a checkpoint found the execution cancelled
    /// or taken over meanwhile.
    pub(super) async fn step(
        &self,
        plan: &Plan,
        node: &NodePlan,
        execution: &mut Execution,
        run: &mut Run,
        task: Task,
    ) -> Result<bool, HandlerError> {
        let record = StepRecord::begin(&node.node, task.attempt);
        let clock = Instant::now();
        let attempt = self.attempt(execution, node, &task, run.frame()).await;
        metrics::histogram!("flowmate_step_duration_seconds", "component" => node.node.component_id.clone())
            .record(clock.elapsed().as_secs_f64());
        match attempt {
            Attempt::Wait(duration) => {
                run.state.tasks.push_front(Task {
                    due: Some(due_in(duration)),
                    waited: true,
                    ..task
                });
                Ok(true)
            }
            Attempt::Done(outcome) => {
                self.done(plan, node, execution, run, (task, record), outcome)
                    .await
            }
            Attempt::Failed(StepFailure { error, logs }) => {
                let message = error.message.clone();
                let (node_id, attempt) = (&node.node.id, task.attempt);
                let logs = logs.filter(|_| plan.save != SaveData::None);
                match self.record_failure(plan, node, record.with_logs(logs), run, task, error) {
                    Some(wait) => tracing::info!(execution_id = %execution.id, node = %node_id, attempt,
                                                 wait_ms = wait.as_millis() as u64, error = %message,
                                                 "step failed; retrying"),
                    None => tracing::info!(execution_id = %execution.id, node = %node_id, error = %message,
                                           "step failed"),
                }
                Ok(true)
            }
        }
    }

    /// Records a step that emitted `outcome` and queues what its output follows; checkpoints after a step with
    /// outside effects. Returns `false` when that checkpoint found the execution cancelled or taken over.
    pub(super) async fn done(
        &self,
        plan: &Plan,
        node: &NodePlan,
        execution: &mut Execution,
        run: &mut Run,
        (task, record): (Task, StepRecord<'_>),
        outcome: Outcome,
    ) -> Result<bool, HandlerError> {
        let output = match outcome.emitted.as_slice() {
            [] => Value::Null,
            [one] => one.clone(),
            many => Value::Array(many.to_vec()),
        };
        if let Value::Object(map) = &mut run.state.outputs {
            map.insert(node.node.id.clone(), output.clone());
        }
        let state = &mut run.state;
        state.seq += 1;
        state.counters.started += 1;
        state.counters.succeeded += 1;
        let kept = (plan.save == SaveData::All).then(|| self.clip(&output));
        let logs = outcome.logs.filter(|_| plan.save == SaveData::All);
        run.steps.push(record.with_logs(logs).succeeded(state.seq, kept));
        if outcome.response.is_some() {
            state.response = outcome.response;
        }
        state.last = Some(output);
        let split = node.kind == Kind::Split;
        let mut next = Vec::new();
        for (i, data) in outcome.emitted.into_iter().enumerate() {
            let index = if split { Some(i as u32) } else { task.index };
            match self.follow(plan, (&node.node.id, index), &task.msg, data, run.frame()) {
                Ok(tasks) => next.extend(tasks),
                Err(e) => {
                    run.state.counters.errors += 1;
                    run.state.error.get_or_insert(e);
                }
            }
        }
        run.state.tasks.extend(next);
        if node.kind.has_side_effects() {
            // Its effect happened: a redelivery must not repeat it.
            return self.save_effect(execution, run).await;
        }
        Ok(true)
    }

    /// Records a failed attempt, and queues the next attempt after its backoff while the node's retry policy
    /// allows another (returning the backoff); otherwise the task has failed for good.
    pub(super) fn record_failure(
        &self,
        plan: &Plan,
        node: &NodePlan,
        record: StepRecord<'_>,
        run: &mut Run,
        task: Task,
        error: StepError,
    ) -> Option<std::time::Duration> {
        let state = &mut run.state;
        state.seq += 1;
        state.counters.started += 1;
        state.counters.errors += 1;
        let input =
            (plan.save != SaveData::None).then(|| self.clip(task.msg.get("data").unwrap_or(&Value::Null)));
        run.steps.push(record.failed(state.seq, input, error.clone()));
        if task.attempt < node.retry.max_attempts {
            let wait = node.retry.backoff_after(task.attempt);
            state.tasks.push_back(Task {
                attempt: task.attempt + 1,
                due: Some(due_in(wait)),
                awaiting: None,
                resumed: None,
                ..task
            });
            Some(wait)
        } else {
            state.error.get_or_insert(error);
            state.failed.push(Task { due: None, ..task });
            None
        }
    }

    /// Checkpoints the run after a step with outside effects. Returns whether the checkpoint applied.
    pub(super) async fn save_effect(
        &self,
        execution: &mut Execution,
        run: &mut Run,
    ) -> Result<bool, HandlerError> {
        execution.counters = run.state.counters;
        execution.state = Some(run.state.clone());
        let checkpoint = run.checkpoint(Write::Update, execution.clone());
        self.store.checkpoint(checkpoint).await.map_err(retry)
    }

    /// Parks the execution until `until`: its state is saved with the due time and no owner, and the timers hand
    /// it to a resume message when it is due. The worker is free again.
    async fn park(
        &self,
        mut execution: Execution,
        mut run: Run,
        until: Option<String>,
    ) -> Result<Option<ExecutionFinished>, HandlerError> {
        execution.waiting_until = until;
        execution.owner = None;
        execution.counters = run.state.counters;
        execution.state = Some(std::mem::take(&mut run.state));
        let checkpoint = run.checkpoint(Write::Update, execution);
        self.store.checkpoint(checkpoint).await.map_err(retry)?;
        self.wake.notify_one();
        Ok(None)
    }

    /// Commits the final state with its events; the trigger is acked after this returns `Ok`. Returns the
    /// execution's result if the write applied.
    async fn finish(
        &self,
        execution: &mut Execution,
        mut run: Run,
        plan: Option<&Plan>,
        write: Write,
    ) -> Result<Option<ExecutionFinished>, HandlerError> {
        let mut state = std::mem::take(&mut run.state);
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
        let result = ExecutionFinished {
            execution_id: execution.id.to_string(),
            flow_id: execution.flow_id.to_string(),
            tenant: execution.tenant.to_string(),
            status: execution.status.as_str().to_owned(),
            output: state.last.clone(),
            response: state.response.clone(),
            error: execution.error.clone(),
            duration_ms: execution.duration_ms,
        };
        run.events
            .extend(self.final_events(execution, &mut state, &result));
        // A failed execution keeps what a retry "from failed" needs; a successful one keeps nothing.
        execution.state = failed.then(|| {
            state.tasks.clear();
            state.last = output;
            state
        });
        let checkpoint = run.checkpoint(write, execution.clone());
        let written = self.store.checkpoint(checkpoint).await.map_err(retry)?;
        if !written {
            return Ok(None);
        }
        metrics::counter!("flowmate_executions_finished_total", "status" => execution.status.as_str())
            .increment(1);
        Ok(Some(result))
    }

    /// The reply a waiting caller expects, and `execution.finished` when a queue is bound to it.
    fn final_events(
        &self,
        execution: &Execution,
        state: &mut RunState,
        result: &ExecutionFinished,
    ) -> Vec<Envelope> {
        let data = result.to_data();
        let mut events = Vec::with_capacity(2);
        if let Some(reply_to) = state.reply_to.take() {
            events.push(Envelope::new(reply_to, SOURCE, data.clone()).with_tenant(execution.tenant.clone()));
        }
        if let Some(parent) = execution.parent.as_ref().filter(|p| p.node_id.is_some()) {
            events.push(super::control::child_done(execution, parent, state.last.clone()));
        }
        // The embedded queue drops an event no group is bound to; not writing it saves the outbox row and the
        // relay's round (standalone has no `execution.finished` consumer unless one subscribes). Bindings are
        // looked at when the execution commits: a queue bound between then and the relay's publish misses it.
        if self.bus.routes(types::EXECUTION_FINISHED) {
            events.push(
                Envelope::new(types::EXECUTION_FINISHED, SOURCE, data).with_tenant(execution.tenant.clone()),
            );
        }
        events
    }
}
