//! The flow-control components as steps: what `merge.wait`, `flow.call` and `wait.event` emit once the engine
//! has joined, or resumed, them (`engine::control` does the joining, the parking and the child executions), and
//! `dedupe.check` and `error.raise`.

use serde_json::{json, Value};

use super::{Kind, Outcome, Runtime, StepContext, StepFailure};
use crate::{
    expr::{self, Scope},
    model::StepError,
};

/// The longest `dedupe.check` key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

fn error(name: &str, message: impl Into<String>) -> StepFailure {
    StepError::new(name, message).into()
}

/// Runs a flow-control component.
pub(super) async fn run(
    kind: Kind,
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    rt: &Runtime,
) -> Result<Outcome, StepFailure> {
    match kind {
        Kind::Merge => Ok(Outcome::one(scope.data.clone())),
        Kind::WaitEvent => {
            let body = cx
                .resumed
                .ok_or_else(|| error("WaitError", "the wait was not resumed"))?;
            Ok(Outcome::one(body.clone()))
        }
        Kind::FlowCall => child_result(cx),
        Kind::Dedupe => dedupe(fields, scope, cx, rt).await,
        Kind::Raise => {
            let message = fields.get("message").cloned().unwrap_or(Value::Null);
            let message = match expr::render(&message, scope, rt.limits) {
                Ok(Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(m) => return Err(error("ExpressionError", format!("fields.message: {m}"))),
            };
            let name = fields.get("name").and_then(Value::as_str).unwrap_or("FlowError");
            Err(error(name, message))
        }
        _ => Err(error(
            "ConfigurationError",
            format!("node {}: not a flow-control step", cx.node_id),
        )),
    }
}

/// A `flow.call`'s child has finished: its output, or the step fails with the child's error.
fn child_result(cx: &StepContext<'_>) -> Result<Outcome, StepFailure> {
    let result = cx
        .resumed
        .ok_or_else(|| error("CallError", "the called flow has not finished"))?;
    let child = result.get("childId").and_then(Value::as_str).unwrap_or_default();
    match result.get("status").and_then(Value::as_str) {
        Some("succeeded") => Ok(Outcome::one(result.get("output").cloned().unwrap_or(Value::Null))),
        status => {
            let reason = result
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            Err(error(
                "ChildExecutionFailed",
                format!(
                    "the called execution {child} ended {}: {reason}",
                    status.unwrap_or("unknown")
                ),
            ))
        }
    }
}

/// `dedupe.check`: the message goes on only if its key was not claimed in this flow within the TTL. The claim
/// names this step, so a redelivered step passes its own message again.
async fn dedupe(
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    rt: &Runtime,
) -> Result<Outcome, StepFailure> {
    let expression = fields.get("key").and_then(Value::as_str).unwrap_or_default();
    let key = match expr::eval(expression, scope, rt.limits) {
        Ok(Some(Value::String(s))) => s,
        Ok(Some(Value::Null) | None) => {
            return Err(error(
                "DedupeError",
                format!("fields.key ({expression}) gave no value for this message"),
            ))
        }
        Ok(Some(other)) => other.to_string(),
        Err(m) => return Err(error("ExpressionError", format!("fields.key: {m}"))),
    };
    if key.len() > MAX_KEY_BYTES {
        return Err(error(
            "DedupeError",
            format!("the key is longer than {MAX_KEY_BYTES} bytes"),
        ));
    }
    let ttl = fields.get("ttlMs").and_then(Value::as_u64).unwrap_or(0);
    let expires = flowmate_domain::time::format(
        flowmate_domain::time::now() + chrono::Duration::milliseconds(ttl.min(i64::MAX as u64) as i64),
    );
    let store = rt
        .store
        .as_ref()
        .ok_or_else(|| error("DedupeError", "no store for dedupe keys is configured"))?;
    match store.dedupe(cx.flow_id, &key, cx.claimant, &expires).await {
        Ok(true) => Ok(Outcome::one(scope.data.clone())),
        Ok(false) => Ok(Outcome {
            emitted: vec![],
            ..Outcome::default()
        }),
        Err(e) => Err(error("DedupeError", format!("the dedupe store failed: {e}"))),
    }
}

/// The answer a `flow.call` without waiting emits: the child's id.
pub fn started(child: &str) -> Value {
    json!({"executionId": child})
}
