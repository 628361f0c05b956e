//! The execution service's types: executions and their steps as stored and as the API shows them, the checkpoint
//! an execution resumes from, the queries, and the store the core and the engine work over.

mod execution;
mod query;
mod state;
mod step;
mod store;

pub use execution::{Counters, Execution, FlowRef, Status, StepError};
pub use query::{GroupBy, ListQuery, RetryFrom};
pub use state::{Arrival, RunState, Task, WaitToken};
pub use step::{LogLine, Step, StepLogs, StepRecord, StepStatus};
pub use store::{
    Admission, Apply, Checkpoint, ExecutionStore, FlowMarker, FlowRegistration, Gate, Resume, RunningFlow,
    Schedule, TickFactory, Write,
};
