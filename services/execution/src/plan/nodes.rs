//! What each node's component needs from its fields (checked at start), and its runtime settings: retry
//! policy, time limit, `applyTransform`.

use std::time::Duration;

use flowmate_domain::flow::Node;
use serde_json::Value;

use super::{error::node_error, NodePlan, PlanError, Retry};
use crate::{
    components::{code::Mode, Kind},
    expr,
};

/// Every `{{ expression }}` inside `value` compiles; the problem names the one that does not.
pub(super) fn check_templates(value: &Value) -> Result<(), String> {
    for e in expr::templates(value) {
        expr::check(&e).map_err(|m| format!("{{{{ {e} }}}} does not compile: {m}"))?;
    }
    Ok(())
}

/// The node's `fields` are what its kind needs: the expressions it evaluates compile, its required fields are set.
fn check_fields(node: &Node, kind: &Kind) -> Result<(), PlanError> {
    let id = &node.id;
    let fields = &node.fields;
    let required_expression = |name: &str| -> Result<(), PlanError> {
        let e = fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| node_error(id, format!("fields.{name} is required")))?;
        expr::check(e).map_err(|m| node_error(id, format!("fields.{name} does not compile: {m}")))
    };
    match kind {
        Kind::Transform => required_expression("expression")?,
        Kind::Filter => required_expression("condition")?,
        Kind::Split => required_expression("path")?,
        Kind::Delay => {
            fields
                .get("ms")
                .and_then(Value::as_u64)
                .ok_or_else(|| node_error(id, "fields.ms must be a number of milliseconds"))?;
        }
        Kind::Http => {
            fields
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| node_error(id, "fields.url is required"))?;
            check_templates(fields).map_err(|p| node_error(id, p))?;
        }
        Kind::Respond | Kind::Log => check_templates(fields).map_err(|p| node_error(id, p))?,
        Kind::Code => {
            fields
                .get("code")
                .and_then(Value::as_str)
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| {
                    node_error(id, "fields.code is required (the body of a JavaScript function)")
                })?;
            let mode = fields.get("mode").and_then(Value::as_str);
            if Mode::parse(mode).is_none() {
                return Err(node_error(
                    id,
                    format!(
                        "fields.mode must be once or each, not \"{}\"",
                        mode.unwrap_or_default()
                    ),
                ));
            }
        }
        Kind::Connector(c) => {
            check_templates(fields).map_err(|p| node_error(id, p))?;
            c.check(node).map_err(|p| node_error(id, p))?;
        }
        Kind::Trigger if (node.component_id.as_str(), node.function.as_str()) == ("amqp", "consume") => {
            crate::components::connectors::consume::check(node).map_err(|p| node_error(id, p))?;
        }
        Kind::Trigger => {}
        Kind::Merge | Kind::FlowCall | Kind::WaitEvent | Kind::Dedupe | Kind::Raise => {
            super::control::check(node, *kind)?
        }
    }
    Ok(())
}

pub(super) fn node_plan(node: &Node, kind: Kind) -> Result<NodePlan, PlanError> {
    check_fields(node, &kind)?;
    let id = &node.id;
    let settings = &node.node_settings;
    let number = |pointer: &str| settings.pointer(pointer).and_then(Value::as_f64);
    let retry = Retry {
        // An error.raise means to fail: trying it again would only fail again.
        max_attempts: number("/retry/maxAttempts")
            .map(|n| n.clamp(1.0, 100.0) as u32)
            .filter(|_| kind != Kind::Raise)
            .unwrap_or(1),
        backoff: Duration::from_millis(
            number("/retry/backoffMs")
                .map(|n| n.max(0.0) as u64)
                .unwrap_or(1000),
        ),
        multiplier: number("/retry/multiplier")
            .map(|n| n.clamp(1.0, 100.0))
            .unwrap_or(2.0),
    };
    let timeout = number("/timeoutMs")
        .filter(|n| *n > 0.0)
        .map(|n| Duration::from_millis(n as u64));
    let transform = |key: &str| -> Result<Option<String>, PlanError> {
        match settings
            .get(key)
            .and_then(Value::as_str)
            .filter(|e| !e.trim().is_empty())
        {
            None => Ok(None),
            Some(e) => {
                expr::check(e)
                    .map_err(|m| node_error(id, format!("nodeSettings.{key} does not compile: {m}")))?;
                Ok(Some(e.to_owned()))
            }
        }
    };
    let (first, second) = (
        transform("transformFunction")?,
        transform("secondTransformFunction")?,
    );
    let (before, after) = match settings.get("applyTransform").and_then(Value::as_str) {
        None | Some("") => (None, None),
        Some("before") => (first, None),
        Some("after") => (None, first),
        Some("both") => (first.clone(), second.or(first)),
        Some(other) => {
            return Err(node_error(
                id,
                format!("nodeSettings.applyTransform must be before, after or both, not \"{other}\""),
            ))
        }
    };
    Ok(NodePlan {
        node: node.clone(),
        kind,
        retry,
        timeout,
        before,
        after,
        credential: None,
    })
}
