//! The execution service's SQL (PostgreSQL and SQLite through one implementation): the flows it runs, schedules,
//! executions and steps. Checkpoints of many concurrent executions are written by a group-commit writer
//! (`writer`): one transaction for a batch, so throughput grows with load instead of paying one commit per step.
//! Claims of due work (`claims`) lock rows so replicas never take the same one.

mod claims;
mod executions;
mod flows;
mod quotas;
mod resumes;
mod rows;
mod slots;
mod sql;
mod writer;

pub use sql::SqlStore;
pub use writer::LEASE;
