//! Executions and their steps as the API shows them (API.md §5, §8), for the OpenAPI document and for clients.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Why a step or an execution failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepError {
    /// The kind of failure: `ExpressionError`, `HttpError`, `Timeout`; for code steps the thrown error's name
    /// (`TypeError`, …), `TimeoutError`, `MemoryLimitError`, `StackOverflowError` or `CodeError`.
    pub name: String,
    /// What went wrong, for people.
    pub message: String,
    /// A code step's stack, with lines and columns in the step's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// One console line of a code step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepLog {
    /// `info` (`console.log`, `console.info`), `warn`, `error` or `debug`.
    #[schema(example = "info")]
    pub level: String,
    /// The arguments, as text.
    pub message: String,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
}

/// One step attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The node id.
    pub step_id: String,
    /// The node's component.
    pub component_id: String,
    /// The component's function.
    pub function: String,
    /// `succeeded`, `failed` or `waiting` (a `wait.event` for its resume URL, a `flow.call` for its child; a
    /// second record follows when it goes on).
    #[schema(example = "succeeded")]
    pub status: String,
    /// A waiting `wait.event` step's resume URL (`POST` it, with a JSON body, to resume the step; single use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_url: Option<String>,
    /// 1 for the first attempt.
    #[schema(minimum = 1)]
    pub attempt: u32,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub started_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub finished_at: String,
    /// The data the step received (failed steps, unless `saveData` is `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The data it emitted (an array when several messages); `null` unless `saveData` is `all`.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<StepError>,
    /// A code step's console lines (at most 100 lines and 16 KiB), kept by `saveData` like step data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<StepLog>>,
    /// Console lines left out past those bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_truncated: Option<u32>,
}

/// What started an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `webhook`, `schedule`, `manual`, `retry` or `call` (a child execution started by `flow.call`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The request that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For retries: the execution retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
}

/// Step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counters {
    /// Step attempts recorded.
    pub started: u32,
    /// Of which succeeded.
    pub succeeded: u32,
    /// Of which failed.
    pub errors: u32,
}

/// One run of a flow. Lists leave out `steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The execution id (the trigger's request id).
    pub id: String,
    /// The flow it ran.
    pub flow_id: String,
    /// The flow's version when it started.
    pub flow_version: i64,
    /// The flow's tenant.
    pub tenant: String,
    /// On whose behalf it ran.
    pub user: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    #[schema(example = "succeeded")]
    pub status: String,
    /// What started it.
    pub trigger: Trigger,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub started_at: String,
    /// RFC 3339, once final.
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    /// Once final.
    pub duration_ms: Option<i64>,
    /// Step counts.
    pub counters: Counters,
    /// The first failure.
    pub error: Option<StepError>,
    /// Parked (a delay, a retry backoff, a `wait.event`, a `flow.call`'s child) until this time at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub waiting_until: Option<String>,
    /// The execution whose `flow.call` started this one.
    pub parent_id: Option<String>,
    /// The executions this one started with `flow.call`, oldest first (`GET /executions/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<String>>,
    /// The step attempts, in order (`GET /executions/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
}

/// `{data: Execution, meta: {}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionEnvelope {
    /// The execution (with its steps from `GET /executions/{id}`).
    pub data: Execution,
    /// Always `{}`.
    pub meta: Value,
}

/// A page's position in the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    /// Items matching the filter.
    pub total: u64,
    /// This page (1-based).
    #[schema(minimum = 1)]
    pub page: u32,
    /// Items per page.
    #[schema(minimum = 1, maximum = 1000)]
    pub per_page: u32,
    /// Pages in all.
    pub total_pages: u64,
}

/// `{data: [Execution], meta: PageMeta}` (items without `steps`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionPage {
    /// The page's executions.
    pub data: Vec<Execution>,
    /// Where the page is.
    pub meta: PageMeta,
}
