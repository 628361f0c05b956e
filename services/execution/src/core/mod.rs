//! The execution service's rules, over its store: the executions API (`api`) and the lifecycle decisions about
//! flows — whether a started flow can run, registering and unregistering it (`lifecycle`).

mod api;
mod lifecycle;
mod quotas;
mod resume;

pub use api::ExecutionCore;
