//! Flow control in the engine: `merge.wait` holds the messages of one execution's branches until every branch
//! that can reach it has settled; `wait.event` parks on a single-use resume token; `flow.call` starts a child
//! execution (in the same transaction as the parent's checkpoint) and parks until the child's result comes
//! back. Resumes (a resume call, a child's result) are rows the engine applies before it parks or finishes and
//! deletes in the checkpoint that applied them, so none is lost or applied twice across a crash.

use flowmate_bus::HandlerError;
use flowmate_domain::{
    event::{
        payload::{ChildDone, Payload},
        types,
    },
    execution::{ParentLink, TriggerInfo, WorkItem},
    Envelope, ExecutionId,
};
use serde_json::{json, Map, Value};

use super::{
    drive::{due_in, Run},
    worker::retry,
    Engine,
};
use crate::{
    components::control::started,
    components::Outcome,
    expr::{self, Scope},
    model::{Arrival, Execution, RunState, StepError, StepRecord, Task, WaitToken},
    plan::{NodePlan, Plan, DEFAULT_WAIT_MS},
    SOURCE,
};

/// How long a waiting `flow.call` waits for its child unless `nodeSettings.timeoutMs` says: 30 days.
const DEFAULT_CALL_MS: u64 = 30 * 24 * 3600 * 1000;

/// Gives every `wait.event` node of `plan` a resume token (a run starting, or a flow that gained one).
pub(super) fn ensure_tokens(plan: &Plan, state: &mut RunState) {
    for node in &plan.waits {
        state.waits.entry(node.clone()).or_default();
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `execution.child.done`: a child's final state, for the parent's waiting `flow.call`.
pub(super) fn child_done(child: &Execution, parent: &ParentLink, output: Option<Value>) -> Envelope {
    Envelope::new(
        types::EXECUTION_CHILD_DONE,
        SOURCE,
        ChildDone {
            parent_id: parent.execution_id.to_string(),
            node_id: parent.node_id.clone().unwrap_or_default(),
            child_id: child.id.to_string(),
            status: child.status.as_str().to_owned(),
            output,
            error: child.error.clone(),
        }
        .to_data(),
    )
    .with_tenant(child.tenant.clone())
}

impl Run {
    /// A message reached `merge` node: held, or — with `fields.count` reached — the merge fires now.
    pub(super) fn arrive(&mut self, node: &NodePlan, task: Task, trigger: &Value) {
        let arrivals = self.state.merges.entry(node.node.id.clone()).or_default();
        arrivals.push(Arrival {
            from: task.from.unwrap_or_default(),
            index: task.index,
            data: task.msg.get("data").cloned().unwrap_or(Value::Null),
        });
        let count = node.node.fields.get("count").and_then(Value::as_u64);
        if count.is_some_and(|n| arrivals.len() as u64 >= n) {
            self.fire(node, trigger);
        }
    }

    /// Queues `merge` node's task with what it holds, joined as `fields.mode` says.
    fn fire(&mut self, node: &NodePlan, trigger: &Value) {
        let Some(mut arrivals) = self.state.merges.remove(&node.node.id) else {
            return;
        };
        arrivals.sort_by_key(|a| a.index); // stable: arrival order within one index
        let data = if node.node.fields.get("mode").and_then(Value::as_str) == Some("array") {
            Value::Array(arrivals.into_iter().map(|a| a.data).collect())
        } else {
            let mut by_source: Map<String, Value> = Map::new();
            let mut several: Vec<String> = Vec::new();
            for a in arrivals {
                match by_source.get_mut(&a.from) {
                    None => {
                        by_source.insert(a.from, a.data);
                    }
                    Some(existing) => {
                        if !several.contains(&a.from) {
                            several.push(a.from.clone());
                            *existing = Value::Array(vec![existing.take()]);
                        }
                        if let Value::Array(items) = existing {
                            items.push(a.data);
                        }
                    }
                }
            }
            Value::Object(by_source)
        };
        let mut msg = match trigger {
            Value::Object(map) => Value::Object(map.clone()),
            _ => json!({}),
        };
        msg["data"] = data;
        self.state.tasks.push_back(Task {
            merged: true,
            ..Task::new(node.node.id.clone(), msg)
        });
    }

    /// Fires every merge none of whose branches can still bring a message. A merge with a branch that failed
    /// for good does not fire (the execution fails; a retry from the failed step runs that branch again and the
    /// merge then fires with everything).
    fn fire_settled(&mut self, plan: &Plan, trigger: &Value) -> bool {
        let ready: Vec<String> = self
            .state
            .merges
            .iter()
            .filter(|(id, arrivals)| {
                let upstream = plan.upstream.get(*id);
                let reaches = |t: &Task| &t.node != *id && upstream.is_some_and(|u| u.contains(&t.node));
                !arrivals.is_empty()
                    && !self.state.tasks.iter().any(reaches)
                    && !self.state.failed.iter().any(reaches)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ready {
            match plan.nodes.get(id) {
                Some(node) => self.fire(node, trigger),
                None => {
                    self.state.merges.remove(id);
                }
            }
        }
        !ready.is_empty()
    }
}

/// A `wait.event` node's `timeoutMs`, or the default.
fn wait_ms(node: &NodePlan) -> u64 {
    node.node
        .fields
        .get("timeoutMs")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_WAIT_MS)
}

impl Engine {
    /// The URL that resumes `node` of `execution` with `token`.
    fn resume_url(&self, execution: &Execution, node: &str, token: &str) -> String {
        let base = self.settings.public_url.trim_end_matches('/');
        format!(
            "{base}/executions/{}/resume/{}?token={token}",
            execution.id,
            segment(node)
        )
    }

    /// `$execution`: id, flow, depth and the resume URL of each `wait.event` node.
    pub(super) fn execution_json(&self, plan: &Plan, execution: &Execution, state: &RunState) -> Value {
        let urls: Map<String, Value> = plan
            .waits
            .iter()
            .filter_map(|node| {
                let token = state.waits.get(node)?;
                let url = self.resume_url(execution, node, &token.token);
                Some((node.clone(), Value::String(url)))
            })
            .collect();
        json!({"id": execution.id, "flowId": execution.flow_id, "flowVersion": execution.flow_version,
               "tenant": execution.tenant, "parentId": execution.parent.as_ref().map(|p| &p.execution_id),
               "depth": execution.depth(), "resumeUrl": plan.waits.first().and_then(|n| urls.get(n)),
               "resumeUrls": urls})
    }

    /// Applies the resumes recorded for the execution and fires settled merges. Returns whether anything can run
    /// now.
    pub(super) async fn settle(
        &self,
        plan: &Plan,
        execution: &Execution,
        run: &mut Run,
    ) -> Result<bool, HandlerError> {
        let mut changed = false;
        let parked = run.state.tasks.iter().any(|t| t.awaiting.is_some());
        if parked || !run.state.waits.values().all(|w| w.used) {
            for resume in self.store.resumes(&execution.id).await.map_err(retry)? {
                if run.resumed.contains(&(resume.node.clone(), resume.key.clone())) {
                    continue;
                }
                run.resumed.push((resume.node.clone(), resume.key.clone()));
                let waiting =
                    run.state.tasks.iter_mut().find(|t| {
                        t.node == resume.node && t.awaiting.as_deref() == Some(resume.key.as_str())
                    });
                if let Some(task) = waiting {
                    task.resumed = Some(resume.body);
                    task.due = None;
                    changed = true;
                } else if let Some(w) = run.state.waits.get_mut(&resume.node) {
                    // Resumed before the wait was reached: it goes on as soon as it is.
                    if w.token == resume.key && !w.used {
                        w.used = true;
                        run.state.early.insert(resume.node, resume.body);
                    }
                }
            }
        }
        Ok(run.fire_settled(plan, &execution.message) || changed)
    }

    /// A resume of `node` with `key` recorded and not applied yet (it came while the execution ran).
    async fn pending(
        &self,
        execution: &Execution,
        run: &mut Run,
        node: &str,
        key: &str,
    ) -> Result<Option<Value>, HandlerError> {
        let found = self
            .store
            .resumes(&execution.id)
            .await
            .map_err(retry)?
            .into_iter()
            .find(|r| r.node == node && r.key == key);
        Ok(found.map(|r| {
            run.resumed.push((r.node, r.key));
            r.body
        }))
    }

    /// Records that `node` now waits (`about` says for what) and queues `task` to wake it at `due`.
    fn park_task(run: &mut Run, node: &NodePlan, task: Task, about: Value) {
        run.state.seq += 1;
        let record = StepRecord::begin(&node.node, task.attempt);
        run.steps.push(record.waiting(run.state.seq, about));
        run.state.tasks.push_back(task);
    }

    /// Fails `task` at `node` for good (no retry): a wait that timed out, a call that cannot be made.
    fn fail_for_good(&self, plan: &Plan, node: &NodePlan, run: &mut Run, task: Task, error: StepError) {
        let record = StepRecord::begin(&node.node, task.attempt);
        let last = Task {
            attempt: task.attempt.max(node.retry.max_attempts),
            awaiting: None,
            ..task
        };
        self.record_failure(plan, node, record, run, last, error);
    }

    /// `wait.event` reached, or its timeout passed without a resume.
    pub(super) async fn wait_event(
        &self,
        plan: &Plan,
        node: &NodePlan,
        execution: &mut Execution,
        run: &mut Run,
        mut task: Task,
    ) -> Result<bool, HandlerError> {
        let id = node.node.id.clone();
        if let Some(key) = task.awaiting.clone() {
            if let Some(body) = self.pending(execution, run, &id, &key).await? {
                task.resumed = Some(body);
                return self.step(plan, node, execution, run, task).await;
            }
            let ms = wait_ms(node);
            if node.node.fields.get("onTimeout").and_then(Value::as_str) == Some("continue") {
                task.resumed = Some(json!({"timedOut": true}));
                return self.step(plan, node, execution, run, task).await;
            }
            let error = StepError::new("WaitTimeout", format!("node {id} was not resumed within {ms} ms"));
            self.fail_for_good(plan, node, run, task, error);
            return Ok(true);
        }
        if let Some(body) = run.state.early.remove(&id) {
            task.resumed = Some(body);
            return self.step(plan, node, execution, run, task).await;
        }
        let token = run.state.waits.entry(id.clone()).or_default();
        if token.used {
            *token = WaitToken::new();
            run.execution = self.execution_json(plan, execution, &run.state);
        }
        let key = run.state.waits[&id].token.clone();
        if let Some(body) = self.pending(execution, run, &id, &key).await? {
            if let Some(w) = run.state.waits.get_mut(&id) {
                w.used = true;
            }
            task.resumed = Some(body);
            return self.step(plan, node, execution, run, task).await;
        }
        let due = due_in(std::time::Duration::from_millis(wait_ms(node)));
        let url = self.resume_url(execution, &id, &key);
        let about = json!({"resumeUrl": url, "timeoutAt": due});
        let parked = Task {
            awaiting: Some(key),
            due: Some(due),
            ..task
        };
        Self::park_task(run, node, parked, about);
        Ok(true)
    }

    /// `flow.call` reached (start the child), or its wait for the child ran out.
    pub(super) async fn call(
        &self,
        plan: &Plan,
        node: &NodePlan,
        execution: &mut Execution,
        run: &mut Run,
        mut task: Task,
    ) -> Result<bool, HandlerError> {
        let id = node.node.id.clone();
        if let Some(child) = task.awaiting.clone() {
            if let Some(body) = self.pending(execution, run, &id, &child).await? {
                task.resumed = Some(body);
                return self.step(plan, node, execution, run, task).await;
            }
            let error = StepError::new(
                "CallTimeout",
                format!("the called execution {child} did not finish in time"),
            );
            self.fail_for_good(plan, node, run, task, error);
            return Ok(true);
        }
        let item = match self.child_item(plan, node, execution, run, &task).await? {
            Ok(item) => item,
            Err(error) => {
                self.fail_for_good(plan, node, run, task, error);
                return Ok(true);
            }
        };
        let child = item.execution_id.to_string();
        let wait = item.parent.as_ref().is_some_and(|p| p.node_id.is_some());
        let tenant = execution.tenant.to_string();
        run.events.push(
            Envelope::new(
                types::FLOW_EXECUTE,
                SOURCE,
                serde_json::to_value(&item).unwrap_or_default(),
            )
            .with_tenant(tenant),
        );
        tracing::info!(execution_id = %execution.id, node = %id, child = %child, wait, "calling a flow");
        if !wait {
            let record = StepRecord::begin(&node.node, task.attempt);
            return self
                .done(
                    plan,
                    node,
                    execution,
                    run,
                    (task, record),
                    Outcome::one(started(&child)),
                )
                .await;
        }
        let ms = node.timeout.map_or(DEFAULT_CALL_MS, |t| t.as_millis() as u64);
        let parked = Task {
            awaiting: Some(child.clone()),
            due: Some(due_in(std::time::Duration::from_millis(ms))),
            ..task
        };
        Self::park_task(run, node, parked, started(&child));
        // The child starts with this checkpoint (its trigger is in the same transaction).
        self.save_effect(execution, run).await
    }

    /// The child execution a `flow.call` starts, or why it cannot.
    async fn child_item(
        &self,
        plan: &Plan,
        node: &NodePlan,
        execution: &Execution,
        run: &Run,
        task: &Task,
    ) -> Result<Result<WorkItem, StepError>, HandlerError> {
        let fields = &node.node.fields;
        let depth = execution.depth() + 1;
        if depth > self.settings.max_depth {
            return Ok(Err(StepError::new(
                "CallDepthExceeded",
                format!(
                    "node {}: calling {} would run {depth} calls deep; the most is {} (FLOWMATE_EXECUTION_MAX_DEPTH)",
                    node.node.id,
                    fields.get("flowId").and_then(Value::as_str).unwrap_or_default(),
                    self.settings.max_depth
                ),
            )));
        }
        let target = fields.get("flowId").and_then(Value::as_str).unwrap_or_default();
        let same_tenant = self
            .registry
            .get(target)
            .await
            .map_err(retry)?
            .is_some_and(|p| p.flow.body.tenant == plan.flow.body.tenant);
        if !same_tenant {
            return Ok(Err(StepError::new(
                "FlowNotActive",
                format!(
                    "node {}: flow {target} is not an active flow of this tenant",
                    node.node.id
                ),
            )));
        }
        let data = task.msg.get("data").unwrap_or(&Value::Null);
        let input = match fields
            .get("input")
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
        {
            None => data.clone(),
            Some(e) => {
                let frame = run.frame();
                let scope = Scope {
                    data,
                    msg: &task.msg,
                    steps: frame.outputs,
                    execution: frame.execution,
                };
                match expr::eval(e, scope, self.runtime.limits) {
                    Ok(v) => v.unwrap_or(Value::Null),
                    Err(m) => {
                        return Ok(Err(StepError::new(
                            "ExpressionError",
                            format!("fields.input: {m}"),
                        )))
                    }
                }
            }
        };
        let child = ExecutionId::new();
        let wait = fields.get("wait").and_then(Value::as_bool).unwrap_or(true);
        let message = json!({
            "id": child, "data": input, "attachments": {}, "headers": {},
            "metadata": {"source": {"name": "flow.call", "type": "call", "externalExecId": execution.id},
                         "parentId": execution.id},
        });
        Ok(Ok(WorkItem {
            execution_id: child,
            flow_id: target.into(),
            trigger: TriggerInfo {
                kind: "call".into(),
                request_id: None,
                retry_of: None,
            },
            message,
            user: Some(execution.user.to_string()),
            reply_to: None,
            parent: Some(ParentLink {
                execution_id: execution.id.clone(),
                node_id: wait.then(|| node.node.id.clone()),
                depth,
            }),
        }))
    }
}
