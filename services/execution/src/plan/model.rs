//! A runnable flow: its nodes with their component kind, retry policy, time limit and transforms, its edges by
//! source, and what its steps record.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use flowmate_domain::flow::{Flow, Node};
use serde_json::Value;

use crate::{components::Kind, credentials::StepCredential};

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
    /// For each `merge` node, the nodes from which it can be reached: while a message is still to be handled at
    /// one of them, the merge waits.
    pub upstream: HashMap<String, HashSet<String>>,
    /// The `wait.event` nodes, sorted (each gets a resume token when an execution starts).
    pub waits: Vec<String>,
    /// `flowSettings.concurrency`: at most this many executions of the flow in progress at once (`None`:
    /// unlimited). Executions past it wait as `queued`, holding no worker.
    pub concurrency: Option<u32>,
}
