//! The event envelope every message on the bus carries (CloudEvents 1.0 attribute names).

use serde::{Deserialize, Serialize};

pub mod payload;

use crate::{ids::Id, time};

/// One event or work item. The routing key is `type`, except for the work items of a tenant, which carry their
/// shard (see [`Envelope::routing_key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique event id; consumers are idempotent on it.
    pub id: String,
    /// Routing key, e.g. `iam.user.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service that published it, e.g. `flowmate/identity`.
    pub source: String,
    /// When it was produced (RFC 3339).
    pub time: String,
    /// The tenant the event belongs to, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// W3C trace context of the producer, so consumers continue the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The payload.
    pub data: serde_json::Value,
}

impl Envelope {
    /// A new event with a fresh id and the current time.
    pub fn new(kind: impl Into<String>, source: impl Into<String>, data: serde_json::Value) -> Self {
        Envelope {
            id: Id::new().into_string(),
            kind: kind.into(),
            source: source.into(),
            time: time::now_string(),
            tenant: None,
            traceparent: None,
            data,
        }
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The key the bus routes it by: `type`, or for a work item of the execution queue with a tenant
    /// `<type>.shard<k>`, its tenant's shard (see [`crate::execution::work_shard`]), so that each shard has a queue
    /// of its own and one tenant's backlog cannot hold up the others'.
    pub fn routing_key(&self) -> std::borrow::Cow<'_, str> {
        match &self.tenant {
            Some(tenant) if crate::execution::is_work(&self.kind) => std::borrow::Cow::Owned(format!(
                "{}.shard{}",
                self.kind,
                crate::execution::work_shard(tenant)
            )),
            _ => std::borrow::Cow::Borrowed(&self.kind),
        }
    }
}

/// Event type names, one place so producers and consumers agree.
pub mod types {
    /// A user was created; data: the user.
    pub const USER_CREATED: &str = "iam.user.created";
    /// A user was changed; data: the user.
    pub const USER_MODIFIED: &str = "iam.user.modified";
    /// A user was deleted; data: `{id, tenant}`.
    pub const USER_DELETED: &str = "iam.user.deleted";
    /// Tokens were revoked; data: a [`crate::identity::Revocation`].
    pub const TOKEN_REVOKED: &str = "iam.token.revoked";
    /// A flow was created; data: `{flowId, tenant, user, flow}`.
    pub const FLOW_CREATED: &str = "flow.created";
    /// A flow was changed; data: `{flowId, tenant, user, flow}`.
    pub const FLOW_MODIFIED: &str = "flow.modified";
    /// A flow was deleted; data: `{flowId, tenant, user}`.
    pub const FLOW_DELETED: &str = "flow.deleted";
    /// Start requested; data: the full flow plus `startedBy`.
    pub const FLOW_STARTING: &str = "flow.starting";
    /// Stop requested (or a start failed); data: the full flow.
    pub const FLOW_STOPPING: &str = "flow.stopping";
    /// The execution service registered the flow's triggers; data: `{flowId}`.
    pub const FLOW_STARTED: &str = "flow.started";
    /// The execution service unregistered the flow; data: `{flowId}`.
    pub const FLOW_STOPPED: &str = "flow.stopped";
    /// The flow cannot run; data: `{flowId, reason}`.
    pub const FLOW_FAILED: &str = "flow.failed";
    /// A trigger to run a flow (work queue `execution.work`); data: a [`crate::execution::WorkItem`].
    pub const FLOW_EXECUTE: &str = "flow.execute";
    /// A parked execution is due (work queue `execution.work`); data: `{executionId, generation}`.
    pub const EXECUTION_RESUME: &str = "execution.resume";
    /// An execution reached a final state; data: `{executionId, flowId, tenant, status, output, response, error,
    /// durationMs}`.
    pub const EXECUTION_FINISHED: &str = "execution.finished";
    /// A child execution (started by a waiting `flow.call`) reached a final state; data: `{parentId, nodeId,
    /// childId, status, output, error}`.
    pub const EXECUTION_CHILD_DONE: &str = "execution.child.done";
    /// A template was created; data: `{templateId, tenant, user, template}`.
    pub const TEMPLATE_CREATED: &str = "template.created";
    /// A template was changed; data: `{templateId, tenant, user, template}`.
    pub const TEMPLATE_MODIFIED: &str = "template.modified";
    /// A template was deleted; data: `{templateId, tenant, user}`.
    pub const TEMPLATE_DELETED: &str = "template.deleted";
    /// A secret was created; data: `{secretId, tenant, user, name, type}` (never its value).
    pub const SECRET_CREATED: &str = "secret.created";
    /// A secret's name or value changed (also when an OAuth2 token was refreshed or the consent was renewed);
    /// data: `{secretId, tenant, user, name, type}`. Consumers holding the value drop their copy.
    pub const SECRET_MODIFIED: &str = "secret.modified";
    /// A secret was deleted; data: `{secretId, tenant, user}`.
    pub const SECRET_DELETED: &str = "secret.deleted";
}
