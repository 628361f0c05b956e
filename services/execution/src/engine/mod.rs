//! The engine: takes triggers off the work queue and runs the flow's graph in process (ARCHITECTURE.md "How a
//! webhook becomes an execution"). `worker` is where a message arrives; `intake` turns it into a run (a new
//! execution, a resumed one, a redelivered one taken over); `drive` runs tasks until the execution finishes or
//! parks, recording as it goes; `step` is one attempt at one node and the edges its output follows; `inline` runs a
//! sync webhook's trigger in the call that brings it.

mod control;
mod drive;
mod inline;
mod intake;
mod step;
mod worker;

pub use inline::{SyncRun, INLINE_RUNS};
pub use worker::{Engine, EngineSettings, Worker};
