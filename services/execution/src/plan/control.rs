//! What the flow-control nodes (`merge.wait`, `flow.call`, `wait.event`, `dedupe.check`, `error.raise`) need from
//! their fields, checked when the flow starts. Whether a called flow exists and is the same tenant's is checked
//! against the running flows by the start-time validation (`core::lifecycle`).

use flowmate_domain::flow::Node;
use serde_json::Value;

use super::{error::node_error, nodes::check_templates, PlanError};
use crate::{components::Kind, expr};

/// How long a `wait.event` waits unless `fields.timeoutMs` says: 7 days.
pub const DEFAULT_WAIT_MS: u64 = 7 * 24 * 3600 * 1000;

/// A positive whole number in `fields.name`, if it is there; an error if it is there and something else.
fn positive(node: &Node, name: &str) -> Result<Option<u64>, PlanError> {
    match node.fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| node_error(&node.id, format!("fields.{name} must be a positive whole number"))),
    }
}

/// One of `allowed` in `fields.name` (absent: the first).
fn one_of(node: &Node, name: &str, allowed: &[&str]) -> Result<(), PlanError> {
    match node.fields.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(other) => Err(node_error(
            &node.id,
            format!("fields.{name} must be {}, not {other}", allowed.join(" or ")),
        )),
    }
}

/// A JSONata expression in `fields.name` that compiles (`required`: it must be there).
fn expression(node: &Node, name: &str, required: bool) -> Result<(), PlanError> {
    match node
        .fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|e| !e.trim().is_empty())
    {
        Some(e) => {
            expr::check(e).map_err(|m| node_error(&node.id, format!("fields.{name} does not compile: {m}")))
        }
        None if required => Err(node_error(
            &node.id,
            format!("fields.{name} is required (a JSONata expression)"),
        )),
        None => Ok(()),
    }
}

/// Checks a flow-control node's fields.
pub(super) fn check(node: &Node, kind: Kind) -> Result<(), PlanError> {
    let id = &node.id;
    match kind {
        Kind::Merge => {
            one_of(node, "mode", &["object", "array"])?;
            positive(node, "count")?;
        }
        Kind::FlowCall => {
            node.fields
                .get("flowId")
                .and_then(Value::as_str)
                .filter(|f| !f.trim().is_empty())
                .ok_or_else(|| node_error(id, "fields.flowId is required (the id of the flow to call)"))?;
            expression(node, "input", false)?;
            match node.fields.get("wait") {
                None | Some(Value::Null | Value::Bool(_)) => {}
                Some(_) => return Err(node_error(id, "fields.wait must be true or false")),
            }
        }
        Kind::WaitEvent => {
            positive(node, "timeoutMs")?;
            one_of(node, "onTimeout", &["fail", "continue"])?;
        }
        Kind::Dedupe => {
            expression(node, "key", true)?;
            positive(node, "ttlMs")?.ok_or_else(|| {
                node_error(
                    id,
                    "fields.ttlMs is required (how long a key is remembered, in ms)",
                )
            })?;
        }
        Kind::Raise => {
            match node.fields.get("message") {
                Some(Value::String(m)) if !m.trim().is_empty() => {}
                _ => return Err(node_error(id, "fields.message is required")),
            }
            check_templates(&node.fields).map_err(|p| node_error(id, p))?;
        }
        _ => {}
    }
    Ok(())
}
