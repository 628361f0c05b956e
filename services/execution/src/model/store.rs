//! The execution service's store as the core, the engine and the timers see it: the flows it runs, executions
//! and their steps, checkpoints written by group commit, and claims of due work. `crate::store::SqlStore` is the
//! SQL behind it (PostgreSQL and SQLite).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowmate_domain::{
    quota::{Quota, QuotaState},
    Envelope,
};
use flowmate_store::StoreError;
use serde_json::Value;

use super::{Execution, GroupBy, ListQuery, Step};

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a checkpoint may do to the execution row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Only create the execution; write nothing if it exists (another message got there first).
    Create,
    /// The one write of a run that was not recorded while it ran (a flow without outside effects): create the
    /// execution, or finish the queued one this message owns (a manual run, a retry from the start); write nothing
    /// to an execution that is under way or done.
    Start,
    /// Update the execution the writer holds: queued or running, its generation, owned by its message.
    Update,
}

/// Everything one checkpoint writes: the execution row, its new steps, and events to publish after commit.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// What it may do to the execution row.
    pub write: Write,
    /// The execution as it is now.
    pub execution: Execution,
    /// Steps recorded since the previous checkpoint.
    pub steps: Vec<Step>,
    /// Published through the outbox once committed.
    pub events: Vec<Envelope>,
    /// The resumes (node, key) this checkpoint applied: deleted with it.
    pub resumed: Vec<(String, String)>,
}

impl Checkpoint {
    /// A checkpoint that writes `execution` as `write` allows, with `steps`, publishing nothing.
    pub fn of(write: Write, execution: Execution, steps: Vec<Step>) -> Checkpoint {
        Checkpoint {
            write,
            execution,
            steps,
            events: Vec::new(),
            resumed: Vec::new(),
        }
    }
}

/// Whether a new execution of a flow with a concurrency limit may start (`flowSettings.concurrency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Recorded running: it holds one of the flow's slots.
    Run,
    /// Recorded queued, parked until a slot frees up.
    Parked,
    /// Its id exists: nothing was written.
    Taken,
}

/// What a tenant's quota said about one more execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Within the quota; counted.
    Admitted,
    /// The tenant has no quota.
    Unlimited,
    /// Past a limit: nothing was recorded.
    Limited {
        /// Seconds until it may succeed.
        retry_after: u64,
        /// Which limit, for people.
        reason: String,
    },
}

/// A resume of a parked node: a `wait.event` resume call or a child execution's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// The node it resumes.
    pub node: String,
    /// The token it came with (`wait.event`) or the child's id (`flow.call`).
    pub key: String,
    /// The resume body, or the child's result `{"status", "output", "error"}`.
    pub body: Value,
}

/// A cron flow's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The cron expression.
    pub cron: String,
    /// The next tick (RFC 3339).
    pub next_due: String,
}

/// A lifecycle decision about a flow: it runs here (with its schedule) or it does not.
#[derive(Debug, Clone)]
pub struct FlowRegistration {
    /// The flow.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// Who started it (the user its triggers run for).
    pub started_by: String,
    /// Its version.
    pub version: i64,
    /// The flow document (JSON), as the event carried it.
    pub document: Value,
    /// Whether it runs.
    pub active: bool,
    /// When the decision's cause happened (the event's time, RFC 3339): decisions apply in this order.
    pub changed_at: String,
    /// Its cron schedule, if it runs on one.
    pub schedule: Option<Schedule>,
}

/// When a [`FlowRegistration`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// Unless a later change was recorded already (another replica applied a later event).
    UnlessNewer,
    /// Only if nothing is known about the flow yet (rebuilding from the flow repository).
    IfUnknown,
}

/// A flow this service runs, as stored.
#[derive(Debug, Clone)]
pub struct RunningFlow {
    /// The flow document (JSON).
    pub document: Value,
    /// Who started it.
    pub started_by: String,
}

/// When a flow's state last changed here and whether it runs: a cached plan is still good while this is equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMarker {
    /// `changed_at` of its registration.
    pub changed_at: String,
    /// Whether it runs.
    pub active: bool,
}

/// Makes the `flow.execute` of one schedule tick: flow id, its tenant, due time, next due time (empty: none).
pub type TickFactory = dyn Fn(&str, &str, &str, &str) -> Option<Envelope> + Send + Sync;

/// The execution service's data.
#[async_trait]
pub trait ExecutionStore: Send + Sync + 'static {
    // ----- the flows this service runs -----

    /// Records `registration` (and `event`, published after commit) in one transaction if `apply` allows;
    /// returns whether it applied.
    async fn register_flow(
        &self,
        registration: &FlowRegistration,
        apply: Apply,
        event: Option<&Envelope>,
    ) -> Result<bool>;
    /// The flow's marker and, if it runs, the flow — one read.
    async fn running_flow(&self, id: &str) -> Result<Option<(FlowMarker, Option<RunningFlow>)>>;
    /// The flow's marker (cheap revalidation of cached plans).
    async fn flow_marker(&self, id: &str) -> Result<Option<FlowMarker>>;
    /// Ids of the flows this service runs.
    async fn running_ids(&self) -> Result<Vec<String>>;

    // ----- executions -----

    /// Writes a checkpoint in the next group commit. `Ok(false)`: nothing was written because the execution was
    /// cancelled or finished meanwhile, another holder took it over (its generation moved on), it belongs to
    /// another message or flow, or — for [`Write::Create`] — it exists already ([`Write`]).
    async fn checkpoint(&self, checkpoint: Checkpoint) -> Result<bool>;
    /// One execution with its checkpoint and trigger message.
    async fn execution(&self, id: &str) -> Result<Option<Execution>>;
    /// An execution's steps in order.
    async fn steps(&self, id: &str) -> Result<Vec<Step>>;
    /// A page of executions (without steps) and the total matching the filter.
    async fn list(&self, query: &ListQuery) -> Result<(Vec<Execution>, u64)>;
    /// Executions started in `[start, end)` grouped by `by`, largest first.
    async fn count(
        &self,
        tenant: Option<&str>,
        start: &str,
        end: &str,
        by: GroupBy,
    ) -> Result<Vec<(String, i64)>>;
    /// Cancels a queued or running execution; `false` when it was already final.
    async fn cancel(&self, id: &str) -> Result<bool>;
    /// Inserts a queued execution and, in the same transaction, the message that runs it.
    async fn insert_queued(&self, execution: &Execution, message: &Envelope) -> Result<Admission>;

    /// Sets (or, when unlimited, removes) a tenant's quota.
    async fn set_quota(&self, tenant: &str, quota: &Quota) -> Result<()>;

    /// A tenant's quota and usage.
    async fn quota_state(&self, tenant: &str) -> Result<QuotaState>;

    /// The tenants with a quota.
    async fn quota_tenants(&self) -> Result<Vec<String>>;

    /// Deletes up to `batch` of the oldest finished executions of tenants past their `maxStoredExecutions`.
    async fn prune_stored(&self, batch: i64) -> Result<usize>;

    // ----- claims of due work -----

    /// Takes over an execution whose owning message was redelivered: bumps the generation so a late checkpoint
    /// of the previous holder writes nothing. Returns the new generation.
    async fn take_over(&self, id: &str, owner: &str, generation: i64) -> Result<Option<i64>>;

    /// Records a new execution of a flow limited to `limit` executions at once: running, or parked when no slot
    /// is free (or others wait for one).
    async fn admit_limited(&self, execution: &Execution, limit: u32) -> Result<Gate>;

    /// A queued execution of a flow limited to `limit` is about to run: marks it running and returns `true` if a
    /// slot is free, else parks it again.
    async fn enter_limited(&self, id: &str, flow_id: &str, limit: u32) -> Result<bool>;

    /// Wakes the oldest parked executions of a flow limited to `limit`, as many as it has free slots.
    async fn wake_limited(&self, flow_id: &str, limit: u32) -> Result<usize>;
    /// Claims executions whose lease ran out while running: each gets a new generation, a fresh lease and a
    /// resume message, in one transaction.
    async fn claim_stale(&self, now: &str, limit: i64) -> Result<usize>;
    /// Claims parked executions due by `now`: each gets a new generation and a resume message.
    async fn claim_due(&self, now: &str, limit: i64) -> Result<usize>;
    /// The earliest time a parked execution is due, if any.
    async fn next_wake(&self) -> Result<Option<String>>;
    /// Claims cron flows due by `now`: their next due time moves past `now` (missed ticks fire once) and each gets
    /// the `flow.execute` `tick` makes, in one transaction.
    async fn claim_schedules(&self, now: DateTime<Utc>, limit: i64, tick: &TickFactory) -> Result<usize>;
    /// The earliest due schedule, if any.
    async fn next_schedule(&self) -> Result<Option<String>>;
    /// Deletes up to `batch` executions (with their steps) that finished before `before`; returns how many.
    async fn purge(&self, before: &str, batch: i64) -> Result<usize>;

    // ----- resumes and dedupe keys -----

    /// Records a resume of `execution_id` and makes the execution due now if it is parked. `false`: this
    /// resume (node and key) was recorded before.
    async fn add_resume(&self, execution_id: &str, resume: &Resume) -> Result<bool>;
    /// The resumes recorded for `execution_id` and not applied yet.
    async fn resumes(&self, execution_id: &str) -> Result<Vec<Resume>>;
    /// Claims `key` in `flow_id` for `claimant` until `expires_at` (RFC 3339) unless another claimant holds it
    /// unexpired; `true` when the claim is `claimant`'s.
    async fn dedupe(&self, flow_id: &str, key: &str, claimant: &str, expires_at: &str) -> Result<bool>;
    /// Deletes up to `batch` dedupe keys that expired by `now`; returns how many.
    async fn purge_dedupe(&self, now: &str, batch: i64) -> Result<usize>;
}
