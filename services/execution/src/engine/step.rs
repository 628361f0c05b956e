//! One step: `applyTransform` around the component within the node's time limit, then the edges its output
//! follows (conditions, mappers, fan-out), and what of it is recorded.

use serde_json::{json, Value};

use super::Engine;
use crate::{
    components::{self, Kind, StepContext, StepFailure},
    expr::{self, Scope},
    model::{Execution, StepError, Task},
    plan::{NodePlan, Plan},
};

/// How one attempt at a step ended.
pub(super) enum Attempt {
    /// A `delay` wants to wait this long first.
    Wait(std::time::Duration),
    /// It emitted these data values.
    Done(components::Outcome),
    /// It failed.
    Failed(StepFailure),
}

/// What a step sees besides its message: earlier outputs (`$steps`), the execution (`$execution`), and the number
/// its record will have.
#[derive(Clone, Copy)]
pub(super) struct Frame<'a> {
    /// `$steps`.
    pub outputs: &'a Value,
    /// `$execution`.
    pub execution: &'a Value,
    /// The step's record number (`seq`).
    pub seq: u32,
}

fn failed(name: &str, message: String) -> Attempt {
    Attempt::Failed(StepError::new(name, message).into())
}

/// The message with its `data` replaced.
fn with_data(msg: &Value, data: Value) -> Value {
    let mut out = match msg {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    out["data"] = data;
    out
}

impl Engine {
    /// One attempt at a step: `applyTransform` before, the component (within the node's time limit), then
    /// `applyTransform` after on each emitted value.
    pub(super) async fn attempt(
        &self,
        execution: &Execution,
        node: &NodePlan,
        task: &Task,
        frame: Frame<'_>,
    ) -> Attempt {
        let outputs = frame.outputs;
        let limits = self.runtime.limits;
        let mut data = task.msg.get("data").cloned().unwrap_or(Value::Null);
        if let Some(before) = &node.before {
            let s = Scope {
                data: &data,
                msg: &task.msg,
                steps: outputs,
                execution: frame.execution,
            };
            match expr::eval(before, s, limits) {
                Ok(v) => data = v.unwrap_or(Value::Null),
                Err(m) => return failed("ExpressionError", format!("transformFunction: {m}")),
            }
        }
        let s = Scope {
            data: &data,
            msg: &task.msg,
            steps: outputs,
            execution: frame.execution,
        };
        let claimant = format!("{}:{}", execution.id, frame.seq);
        let cx = StepContext {
            node_id: &node.node.id,
            waited: task.waited,
            attempt: task.attempt,
            execution_id: &execution.id,
            flow_id: &execution.flow_id,
            flow_version: execution.flow_version,
            tenant: &execution.tenant,
            timeout: node.timeout,
            credential: node.credential.as_ref(),
            resumed: task.resumed.as_ref(),
            claimant: &claimant,
        };
        let run = components::run(node.kind, &node.node.fields, s, &cx, &self.runtime);
        let result = match node.timeout {
            // A code step enforces its own limit (inside the JavaScript engine, and with a watchdog).
            Some(limit) if node.kind != Kind::Code => match tokio::time::timeout(limit, run).await {
                Ok(r) => r,
                Err(_) => Err(StepError::new(
                    "Timeout",
                    format!("node {} took longer than {} ms", node.node.id, limit.as_millis()),
                )
                .into()),
            },
            _ => run.await,
        };
        let mut outcome = match result {
            Ok(o) => o,
            Err(e) => return Attempt::Failed(e),
        };
        if let Some(wait) = outcome.wait {
            if node.kind == Kind::Delay {
                return Attempt::Wait(wait);
            }
        }
        if let Some(after) = &node.after {
            let mut transformed = Vec::with_capacity(outcome.emitted.len());
            for value in &outcome.emitted {
                let s = Scope {
                    data: value,
                    msg: &task.msg,
                    steps: outputs,
                    execution: frame.execution,
                };
                match expr::eval(after, s, limits) {
                    Ok(v) => transformed.push(v.unwrap_or(Value::Null)),
                    Err(m) => return failed("ExpressionError", format!("transformFunction (after): {m}")),
                }
            }
            outcome.emitted = transformed;
        }
        Attempt::Done(outcome)
    }

    /// The tasks `data` (emitted by `node_id`, as the `index`-th element of a split if it was one) creates: one
    /// per outgoing edge whose condition holds, with the edge's mapper applied.
    pub(super) fn follow(
        &self,
        plan: &Plan,
        (node_id, index): (&str, Option<u32>),
        msg: &Value,
        data: Value,
        frame: Frame<'_>,
    ) -> Result<Vec<Task>, StepError> {
        let outputs = frame.outputs;
        let Some(edges) = plan.outgoing.get(node_id) else {
            return Ok(vec![]);
        };
        let message = with_data(msg, data);
        let data = &message["data"];
        let scope = Scope {
            data,
            msg: &message,
            steps: outputs,
            execution: frame.execution,
        };
        let limits = self.runtime.limits;
        let mut out = Vec::with_capacity(edges.len());
        for edge in edges {
            if let Some(condition) = &edge.condition {
                let pass = expr::eval(condition, scope, limits).map_err(|m| {
                    StepError::new(
                        "ExpressionError",
                        format!("edge {node_id} → {}: condition: {m}", edge.target),
                    )
                })?;
                if !expr::truthy(pass.as_ref()) {
                    continue;
                }
            }
            let mapped = match &edge.mapper {
                None => data.clone(),
                Some(Value::String(m)) => expr::eval(m, scope, limits)
                    .map_err(|e| {
                        StepError::new(
                            "ExpressionError",
                            format!("edge {node_id} → {}: mapper: {e}", edge.target),
                        )
                    })?
                    .unwrap_or(Value::Null),
                Some(template) => expr::render(template, scope, limits).map_err(|e| {
                    StepError::new(
                        "ExpressionError",
                        format!("edge {node_id} → {}: mapper: {e}", edge.target),
                    )
                })?,
            };
            out.push(Task {
                from: Some(node_id.to_owned()),
                index,
                ..Task::new(edge.target.clone(), with_data(&message, mapped))
            });
        }
        Ok(out)
    }

    /// `value`, or a marker when its JSON is larger than the configured limit.
    pub(super) fn clip(&self, value: &Value) -> Value {
        let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
        if size <= self.settings.max_output_bytes {
            value.clone()
        } else {
            json!({"truncated": true, "bytes": size, "limit": self.settings.max_output_bytes})
        }
    }
}
