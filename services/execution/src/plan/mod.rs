//! A flow checked for running and ready for the engine to walk (API.md §3 "checked at start").

mod compile;
mod control;
mod error;
mod model;
mod nodes;

pub use control::DEFAULT_WAIT_MS;
pub use error::PlanError;
pub use model::{EdgePlan, NodePlan, Plan, Retry, SaveData};
