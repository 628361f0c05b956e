//! Flows: the graph model of API.md §3, its status machine, and validation.

mod model;
pub(crate) mod validate;
pub mod webhooks;

pub use model::{Edge, EdgeConfig, Flow, FlowBody, FlowStatus, Graph, Node, Owner, OwnerKind};
pub use validate::{validate_body, SERVER_FIELDS};

/// The largest `flowSettings.concurrency` a flow may set (executions of one flow in progress at once).
pub const MAX_CONCURRENCY: u64 = 10_000;
