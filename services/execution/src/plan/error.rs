//! Why a flow cannot run: the text becomes the flow's `statusReason` (naming the node or edge and the problem).

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
    /// `flowSettings.concurrency` is not a whole number in range.
    #[error("flowSettings.concurrency must be a whole number from 1 to 10000, not {0}")]
    BadConcurrency(String),
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

pub(super) fn node_error(node: &str, problem: impl Into<String>) -> PlanError {
    PlanError::Node {
        node: node.to_owned(),
        problem: problem.into(),
    }
}

pub(super) fn edge_error(edge: &str, problem: impl Into<String>) -> PlanError {
    PlanError::Edge {
        edge: edge.to_owned(),
        problem: problem.into(),
    }
}
