//! An execution as stored and as the API shows it (API.md §5): where it is, what started it, what it recorded.

use flowmate_domain::{
    execution::{ParentLink, TriggerInfo},
    time, ExecutionId, FlowId, TenantId, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{RunState, Step};

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
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 5] = [
        Status::Queued,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

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
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

pub use flowmate_domain::execution::StepError;

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

/// The flow an execution runs, as it was when the execution began.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its version (0 when the flow is not running here).
    pub version: i64,
    /// Its tenant.
    pub tenant: &'a str,
}

/// An execution as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The request id it was triggered with.
    pub id: ExecutionId,
    /// The flow it runs.
    pub flow_id: FlowId,
    /// The flow's version when it started.
    pub flow_version: i64,
    /// The flow's tenant.
    pub tenant: TenantId,
    /// On whose behalf it runs.
    pub user: UserId,
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
    /// The execution whose `flow.call` started this one.
    pub parent: Option<ParentLink>,
}

impl Execution {
    /// A new execution `id` of `flow` on behalf of `user`, starting now with `status`: nothing recorded yet, no
    /// checkpoint, no owner.
    pub fn new(
        id: ExecutionId,
        flow: FlowRef<'_>,
        user: UserId,
        status: Status,
        trigger: TriggerInfo,
        message: Value,
    ) -> Execution {
        Execution {
            id,
            flow_id: flow.id.into(),
            flow_version: flow.version,
            tenant: flow.tenant.into(),
            user,
            status,
            trigger,
            started_at: time::now_string(),
            finished_at: None,
            duration_ms: None,
            counters: Counters::default(),
            error: None,
            response: None,
            message,
            state: None,
            waiting_until: None,
            owner: None,
            generation: 0,
            parent: None,
        }
    }

    /// The same execution as a child of `parent`.
    pub fn with_parent(self, parent: Option<ParentLink>) -> Execution {
        Execution { parent, ..self }
    }

    /// How deep in a chain of `flow.call`s it runs (0: nobody called it).
    pub fn depth(&self) -> u32 {
        self.parent.as_ref().map_or(0, |p| p.depth)
    }

    /// The same execution continuing from `state`.
    pub fn with_state(self, state: RunState) -> Execution {
        Execution {
            state: Some(state),
            ..self
        }
    }

    /// The same execution, run by the message `owner`.
    pub fn owned_by(self, owner: impl Into<String>) -> Execution {
        Execution {
            owner: Some(owner.into()),
            ..self
        }
    }

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
            map.insert(
                "parentId".into(),
                json!(self.parent.as_ref().map(|p| &p.execution_id)),
            );
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
