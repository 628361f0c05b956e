//! Helpers shared by the end-to-end scenarios: graph builders, an HTTP target for flows to call, members of other
//! tenants, and waits for flows, executions and sentinels (never a fixed sleep before asserting that nothing
//! happened).

mod build;
mod executions;
mod flows;
mod target;

pub use build::{edge, flow, node, order};
pub use executions::{finished, is_final, run, step_list, steps, wait_execution, Sentinel};
pub use flows::{member, started, tenant, wait_flow, Member};
pub use target::{target, Target};
