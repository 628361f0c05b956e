//! A flow checked for running (API.md §3 "checked at start"): every component and function exists, exactly one
//! trigger node, every expression compiles, the cron parses. The result is what the engine walks.

use std::{collections::HashMap, time::Duration};

use flowmate_domain::flow::{Flow, Node};
use serde_json::Value;

use crate::{
    components::{self, Kind},
    credentials::StepCredential,
    expr,
};

/// Why a flow cannot run; the text becomes the flow's `statusReason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Every node is an edge's target.
    #[error("the flow has no trigger node (every node is an edge's target)")]
    NoTrigger,
    /// More than one node is no edge's target.
    #[error(
        "the flow must have exactly one trigger node (a node that is no edge's target); found {}: {}",
        .0.len(), .0.join(", ")
    )]
    SeveralTriggers(Vec<String>),
    /// `cron` does not parse.
    #[error("cron \"{0}\" does not parse")]
    BadCron(String),
    /// `flowSettings.executions.saveData` has an unknown value.
    #[error("flowSettings.executions.saveData must be all, errors or none, not \"{0}\"")]
    BadSaveData(String),
    /// A node cannot run as configured.
    #[error("node {node}: {problem}")]
    Node {
        /// The node id.
        node: String,
        /// What is wrong with it, for people.
        problem: String,
    },
    /// An edge cannot be followed as configured.
    #[error("edge {edge}: {problem}")]
    Edge {
        /// The edge id (or `#<index>`).
        edge: String,
        /// What is wrong with it, for people.
        problem: String,
    },
}

fn node_error(node: &str, problem: impl Into<String>) -> PlanError {
    PlanError::Node {
        node: node.to_owned(),
        problem: problem.into(),
    }
}

fn edge_error(edge: &str, problem: impl Into<String>) -> PlanError {
    PlanError::Edge {
        edge: edge.to_owned(),
        problem: problem.into(),
    }
}

/// `flowSettings.executions.saveData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveData {
    /// Inputs of failed steps and every output (default).
    All,
    /// Only failed steps' data.
    Errors,
    /// No step data.
    None,
}

/// `nodeSettings.retry`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub backoff: Duration,
    /// Each further wait is the previous one times this.
    pub multiplier: f64,
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based), at most one day.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.powi(attempt.saturating_sub(1).min(64) as i32);
        let ms = (self.backoff.as_millis() as f64 * factor).min(86_400_000.0);
        Duration::from_millis(ms.max(0.0) as u64)
    }
}

/// A node ready to run.
#[derive(Debug, Clone)]
pub struct NodePlan {
    /// The node as stored.
    pub node: Node,
    /// What its component does.
    pub kind: Kind,
    /// Its retry policy.
    pub retry: Retry,
    /// Its time limit.
    pub timeout: Option<Duration>,
    /// `applyTransform` before the step.
    pub before: Option<String>,
    /// `applyTransform` after the step.
    pub after: Option<String>,
    /// The secret its `credentials_id` names, for the flow's tenant and owner.
    pub credential: Option<StepCredential>,
}

/// An edge ready to follow.
#[derive(Debug, Clone)]
pub struct EdgePlan {
    /// Target node id.
    pub target: String,
    /// Followed only when this is true.
    pub condition: Option<String>,
    /// Applied to the message's data along the edge: an expression (string) or a `{{ }}` template (object).
    pub mapper: Option<Value>,
}

/// A runnable flow.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The flow as started.
    pub flow: Flow,
    /// Who started it.
    pub started_by: String,
    /// The trigger node id.
    pub trigger: String,
    /// Nodes by id.
    pub nodes: HashMap<String, NodePlan>,
    /// Outgoing edges by source node id, in document order.
    pub outgoing: HashMap<String, Vec<EdgePlan>>,
    /// What steps record.
    pub save: SaveData,
    /// Whether any step has effects outside FlowMate or waits (the execution is recorded as soon as it starts).
    pub long_running: bool,
}

impl Plan {
    /// Checks `flow` and prepares it; the error names the node and the problem.
    pub fn compile(flow: &Flow, started_by: &str) -> Result<Plan, PlanError> {
        let graph = &flow.body.graph;
        let targets: std::collections::HashSet<&str> =
            graph.edges.iter().map(|e| e.target.as_str()).collect();
        let triggers: Vec<&Node> = graph
            .nodes
            .iter()
            .filter(|n| !targets.contains(n.id.as_str()))
            .collect();
        let trigger = match triggers.as_slice() {
            [one] => *one,
            [] => return Err(PlanError::NoTrigger),
            many => {
                return Err(PlanError::SeveralTriggers(
                    many.iter().map(|n| n.id.clone()).collect(),
                ))
            }
        };
        let mut nodes = HashMap::new();
        for node in &graph.nodes {
            let spec = components::find(&node.component_id, &node.function).ok_or_else(|| {
                node_error(
                    &node.id,
                    format!(
                        "unknown component \"{}\" with function \"{}\"",
                        node.component_id, node.function
                    ),
                )
            })?;
            let is_trigger = node.id == trigger.id;
            if is_trigger && spec.kind != Kind::Trigger {
                return Err(node_error(
                    &node.id,
                    format!(
                        "\"{}\" cannot start a flow; the first node must be webhook, scheduler or manual",
                        node.component_id
                    ),
                ));
            }
            if !is_trigger && spec.kind == Kind::Trigger {
                return Err(node_error(
                    &node.id,
                    format!(
                        "the trigger \"{}\" can only be the flow's first node",
                        node.component_id
                    ),
                ));
            }
            let mut plan = node_plan(node, spec.kind)?;
            plan.credential = node
                .credentials_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(|id| StepCredential {
                    secret_id: id.to_owned(),
                    tenant: flow.body.tenant.clone(),
                    user: started_by.to_owned(),
                });
            nodes.insert(node.id.clone(), plan);
        }
        match (&flow.body.cron, trigger.component_id.as_str()) {
            (Some(cron), "scheduler") => {
                flowmate_domain::cron::parse(cron).ok_or_else(|| PlanError::BadCron(cron.clone()))?;
            }
            (None, "scheduler") => {
                return Err(node_error(
                    &trigger.id,
                    "the scheduler trigger needs the flow's cron",
                ))
            }
            (Some(_), _) => {
                return Err(node_error(
                    &trigger.id,
                    "a flow with a cron must start with the scheduler trigger",
                ))
            }
            (None, _) => {}
        }
        let mut outgoing: HashMap<String, Vec<EdgePlan>> = HashMap::new();
        for (i, edge) in graph.edges.iter().enumerate() {
            let name = edge.id.clone().unwrap_or_else(|| format!("#{i}"));
            if !nodes.contains_key(&edge.source) || !nodes.contains_key(&edge.target) {
                return Err(edge_error(&name, "source and target must name nodes"));
            }
            if let Some(c) = &edge.config.condition {
                expr::check(c).map_err(|e| edge_error(&name, format!("condition does not compile: {e}")))?;
            }
            match &edge.config.mapper {
                Some(Value::String(m)) => {
                    expr::check(m).map_err(|e| edge_error(&name, format!("mapper does not compile: {e}")))?
                }
                Some(other) => {
                    check_templates(other).map_err(|p| edge_error(&name, format!("mapper: {p}")))?
                }
                None => {}
            }
            outgoing.entry(edge.source.clone()).or_default().push(EdgePlan {
                target: edge.target.clone(),
                condition: edge.config.condition.clone().filter(|c| !c.trim().is_empty()),
                mapper: edge.config.mapper.clone().filter(|m| !m.is_null()),
            });
        }
        let save = match flow
            .body
            .flow_settings
            .pointer("/executions/saveData")
            .and_then(Value::as_str)
        {
            None | Some("all") => SaveData::All,
            Some("errors") => SaveData::Errors,
            Some("none") => SaveData::None,
            Some(other) => return Err(PlanError::BadSaveData(other.to_owned())),
        };
        let long_running = nodes
            .values()
            .any(|n| n.kind.has_side_effects() || n.kind == Kind::Delay || n.retry.max_attempts > 1);
        Ok(Plan {
            flow: flow.clone(),
            started_by: started_by.to_owned(),
            trigger: trigger.id.clone(),
            nodes,
            outgoing,
            save,
            long_running,
        })
    }
}

/// Every `{{ expression }}` inside `value` compiles; the problem names the one that does not.
fn check_templates(value: &Value) -> Result<(), String> {
    for e in expr::templates(value) {
        expr::check(&e).map_err(|m| format!("{{{{ {e} }}}} does not compile: {m}"))?;
    }
    Ok(())
}

fn node_plan(node: &Node, kind: Kind) -> Result<NodePlan, PlanError> {
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
        Kind::Trigger => {}
    }
    let settings = &node.node_settings;
    let number = |pointer: &str| settings.pointer(pointer).and_then(Value::as_f64);
    let retry = Retry {
        max_attempts: number("/retry/maxAttempts")
            .map(|n| n.clamp(1.0, 100.0) as u32)
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
