//! Flows: the graph model of API.md §3, its status machine, and validation.

mod model;
pub(crate) mod validate;

pub use model::{Edge, EdgeConfig, Flow, FlowBody, FlowStatus, Graph, Node, Owner, OwnerKind};
pub use validate::{validate_body, SERVER_FIELDS};
