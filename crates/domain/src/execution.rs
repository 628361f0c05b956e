//! What producers of triggers (webhook, scheduler, manual runs, retries) hand to the execution service.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{ExecutionId, FlowId};

/// The work queue of triggers without a tenant (and of those queued before the shards existed); the execution
/// service's workers compete for it.
pub const WORK_QUEUE: &str = "execution.work";

/// How many shard queues (`execution.work.<k>`) the triggers of tenants are spread over, by a hash of the tenant.
/// Workers take from every shard in turn, so a tenant flooding its shard delays the others by a bounded amount.
/// Changing it moves tenants between shards: triggers already queued stay where they are and are still taken.
pub const WORK_SHARDS: u16 = 8;

/// Whether `kind` is a work item of the execution queue (`flow.execute`, `execution.resume`).
pub fn is_work(kind: &str) -> bool {
    kind == crate::event::types::FLOW_EXECUTE || kind == crate::event::types::EXECUTION_RESUME
}

/// The shard of `tenant`'s work items: FNV-1a of its id, modulo [`WORK_SHARDS`] (stable across builds).
pub fn work_shard(tenant: &str) -> u16 {
    let hash = tenant.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(WORK_SHARDS)) as u16
}

/// The queue of shard `k` and the routing-key patterns bound to it.
pub fn work_shard_queue(k: u16) -> (String, Vec<String>) {
    let patterns = [
        crate::event::types::FLOW_EXECUTE,
        crate::event::types::EXECUTION_RESUME,
    ]
    .iter()
    .map(|kind| format!("{kind}.shard{k}"))
    .collect();
    (format!("{WORK_QUEUE}.{k}"), patterns)
}

/// Every work queue: the unsharded [`WORK_QUEUE`] first, then the shards, each with its patterns.
pub fn work_queues() -> Vec<(String, Vec<String>)> {
    let legacy = (
        WORK_QUEUE.to_owned(),
        vec![
            crate::event::types::FLOW_EXECUTE.to_owned(),
            crate::event::types::EXECUTION_RESUME.to_owned(),
        ],
    );
    std::iter::once(legacy)
        .chain((0..WORK_SHARDS).map(work_shard_queue))
        .collect()
}

/// How an execution was started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerInfo {
    /// `webhook`, `schedule`, `manual` or `retry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request that caused it (webhook request id, manual run's request id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For retries: the execution that is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
}

/// The payload of `flow.execute`: run `flow_id` once with `message` as the trigger's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    /// The execution's id (the webhook's request id); the execution is created idempotently on it.
    pub execution_id: ExecutionId,
    /// The flow to run.
    pub flow_id: FlowId,
    /// What started it.
    pub trigger: TriggerInfo,
    /// The message the trigger node emits: `{"data": …, "headers": …, "metadata": …}` (API.md §5).
    pub message: Value,
    /// The user on whose behalf it runs (manual runs and retries); otherwise the user who started the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A caller waits for the result (sync webhooks): when the execution finishes, a copy of `execution.finished`
    /// is published with this routing key, which the waiting replica's own queue is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The execution whose `flow.call` step started this one (a child execution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
}

/// The execution that started a child execution with a `flow.call` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentLink {
    /// The calling execution.
    pub execution_id: ExecutionId,
    /// The calling node, when the parent waits for the child's result (`None`: fire and forget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// How deep the child is: its parent's depth + 1 (an execution nobody called is at depth 0).
    pub depth: u32,
}

/// A step's or an execution's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    /// What went wrong, for people.
    pub message: String,
    /// The kind of failure (`ExpressionError`, `HttpError`, `Timeout`, `TypeError`, …).
    pub name: String,
    /// Where a code step's error was thrown: its stack, with lines and columns in the step's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl StepError {
    /// An error of kind `name`.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        StepError {
            name: name.to_owned(),
            message: message.into(),
            stack: None,
        }
    }
}

/// The routing-key prefix of replies to waiting callers (see [`WorkItem::reply_to`]).
pub const REPLY_PREFIX: &str = "execution.reply.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{event::types, Envelope};

    #[test]
    fn a_tenants_work_items_are_routed_to_its_shard_and_the_rest_by_type() {
        let shard = work_shard("acme");
        assert!(shard < WORK_SHARDS);
        assert_eq!(work_shard("acme"), shard, "stable");
        let item = Envelope::new(types::FLOW_EXECUTE, "t", serde_json::json!({})).with_tenant("acme");
        assert_eq!(item.routing_key(), format!("flow.execute.shard{shard}"));
        let resume = Envelope::new(types::EXECUTION_RESUME, "t", serde_json::json!({})).with_tenant("acme");
        assert_eq!(resume.routing_key(), format!("execution.resume.shard{shard}"));
        let (queue, patterns) = work_shard_queue(shard);
        assert_eq!(queue, format!("execution.work.{shard}"));
        assert!(patterns.iter().any(|p| *p == item.routing_key()));
        // Without a tenant, and for every other event: the type, as before.
        let untenanted = Envelope::new(types::FLOW_EXECUTE, "t", serde_json::json!({}));
        assert_eq!(untenanted.routing_key(), "flow.execute");
        let other = Envelope::new(types::FLOW_STARTED, "t", serde_json::json!({})).with_tenant("acme");
        assert_eq!(other.routing_key(), types::FLOW_STARTED);
        assert_eq!(work_queues().len(), usize::from(WORK_SHARDS) + 1);
        assert_eq!(work_queues()[0].0, WORK_QUEUE);
    }

    #[test]
    fn tenants_spread_over_every_shard() {
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..200 {
            seen.insert(work_shard(&crate::Id::new().into_string()));
            if n > 0 && seen.len() == usize::from(WORK_SHARDS) {
                return;
            }
        }
        panic!("only shards {seen:?} among 200 tenants");
    }
}
