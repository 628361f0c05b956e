//! Executions and steps as stored and as the API shows them (API.md §5), and the checkpoint an execution
//! resumes from.

use std::collections::VecDeque;

use flowmate_domain::execution::TriggerInfo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted, not started yet (retries from failed steps, before a worker picks them up).
    Queued,
    /// Running or parked (delay, retry backoff).
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed after its retries.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl Status {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "queued" => Some(Status::Queued),
            "running" => Some(Status::Running),
            "succeeded" => Some(Status::Succeeded),
            "failed" => Some(Status::Failed),
            "cancelled" => Some(Status::Cancelled),
            _ => None,
        }
    }

    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

/// A step's or an execution's failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepError {
    /// What went wrong, for people.
    pub message: String,
    /// The kind of failure (`ExpressionError`, `HttpError`, `Timeout`, …).
    pub name: String,
}

impl StepError {
    /// An error of kind `name`.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        StepError {
            name: name.to_owned(),
            message: message.into(),
        }
    }
}

/// Step counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Step attempts recorded.
    pub started: u32,
    /// Of which succeeded.
    pub succeeded: u32,
    /// Of which failed.
    pub errors: u32,
}

/// One recorded step attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Order within the execution.
    pub seq: u32,
    /// The node id.
    pub step_id: String,
    /// Its component.
    pub component_id: String,
    /// Its function.
    pub function: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// The data it received (kept for failed steps only).
    pub input: Option<Value>,
    /// The data it emitted (an array when it emitted several messages).
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<StepError>,
}

impl Step {
    /// The API shape.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "stepId": self.step_id, "componentId": self.component_id, "function": self.function,
            "status": self.status, "attempt": self.attempt, "startedAt": self.started_at,
            "finishedAt": self.finished_at, "output": self.output, "error": self.error,
        });
        if let (Some(input), Value::Object(map)) = (&self.input, &mut v) {
            map.insert("input".into(), input.clone());
        }
        v
    }
}

/// A message waiting to be handled by a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The node.
    pub node: String,
    /// The message (`{"data", "headers", "metadata", …}`).
    pub msg: Value,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Not before this time (RFC 3339): a retry backoff or a delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// A `delay` node whose wait is over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waited: bool,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// What a redelivered or resumed execution continues from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Messages still to handle, in order.
    pub tasks: VecDeque<Task>,
    /// `$steps`: the latest output of each node (an object by node id).
    #[serde(default = "empty_object")]
    pub outputs: Value,
    /// Steps recorded so far.
    pub seq: u32,
    /// Tasks that failed for good (a retry "from failed" runs them again).
    #[serde(default)]
    pub failed: Vec<Task>,
    /// The `respond` step's reply.
    #[serde(default)]
    pub response: Option<Value>,
    /// The last step's output.
    #[serde(default)]
    pub last: Option<Value>,
    /// The first failure.
    #[serde(default)]
    pub error: Option<StepError>,
    /// Step counts.
    #[serde(default)]
    pub counters: Counters,
    /// Where a waiting caller expects the result (routing key), if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            tasks: VecDeque::new(),
            outputs: empty_object(),
            seq: 0,
            failed: Vec::new(),
            response: None,
            last: None,
            error: None,
            counters: Counters::default(),
            reply_to: None,
        }
    }
}

/// An execution as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The request id it was triggered with.
    pub id: String,
    /// The flow it runs.
    pub flow_id: String,
    /// The flow's version when it started.
    pub flow_version: i64,
    /// The flow's tenant.
    pub tenant: String,
    /// On whose behalf it runs.
    pub user: String,
    /// Where it is.
    pub status: Status,
    /// What started it.
    pub trigger: TriggerInfo,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, once final.
    pub finished_at: Option<String>,
    /// Once final.
    pub duration_ms: Option<i64>,
    /// Step counts.
    pub counters: Counters,
    /// The first failure.
    pub error: Option<StepError>,
    /// The `respond` step's reply.
    pub response: Option<Value>,
    /// The trigger's message.
    pub message: Value,
    /// The checkpoint (running and failed executions).
    pub state: Option<RunState>,
    /// Parked until.
    pub waiting_until: Option<String>,
    /// The message that runs it (`None` while parked).
    pub owner: Option<String>,
    /// Fencing token: bumped on every takeover and resume claim.
    pub generation: i64,
}

impl Execution {
    /// The API shape; `steps` is included when given.
    pub fn to_json(&self, steps: Option<&[Step]>) -> Value {
        let mut v = json!({
            "id": self.id, "flowId": self.flow_id, "flowVersion": self.flow_version, "tenant": self.tenant,
            "user": self.user, "status": self.status.as_str(), "trigger": self.trigger,
            "startedAt": self.started_at, "finishedAt": self.finished_at, "durationMs": self.duration_ms,
            "counters": self.counters, "error": self.error,
        });
        if let Value::Object(map) = &mut v {
            if let Some(until) = &self.waiting_until {
                map.insert("waitingUntil".into(), Value::String(until.clone()));
            }
            if let Some(steps) = steps {
                map.insert(
                    "steps".into(),
                    Value::Array(steps.iter().map(Step::to_json).collect()),
                );
            }
        }
        v
    }
}

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `None`: every tenant (global admins).
    pub tenant: Option<String>,
    /// `filter[flowId]`.
    pub flow_id: Option<String>,
    /// `filter[status]`.
    pub status: Option<String>,
    /// `filter[from]`: startedAt at or after.
    pub from: Option<String>,
    /// `filter[to]`: startedAt at or before.
    pub to: Option<String>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// 1..=1000.
    pub page_size: u32,
    /// 1-based.
    pub page_number: u32,
}

/// What `GET /icenter/executions` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The user on whose behalf executions ran.
    User,
    /// The flow.
    Flow,
    /// The components the executions' steps used.
    Component,
}

impl GroupBy {
    /// Parses `user|flow|component`.
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "" | "user" => Some(GroupBy::User),
            "flow" => Some(GroupBy::Flow),
            "component" => Some(GroupBy::Component),
            _ => None,
        }
    }

    /// The key in the response items.
    pub fn key(self) -> &'static str {
        match self {
            GroupBy::User => "user",
            GroupBy::Flow => "flow",
            GroupBy::Component => "component",
        }
    }
}
