//! Flows and their graphs as the API takes and shows them (API.md §3), for the OpenAPI document and for clients.
//! Nodes keep the fields a client adds (`additionalProperties`): they travel through unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ErrorItem;

/// What owns a flow or a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OwnerType {
    /// A user.
    User,
    /// A tenant: every member of the tenant owns it.
    Tenant,
}

/// An owner: a user or a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Owner {
    /// User or tenant id.
    pub id: String,
    /// `user` or `tenant`.
    #[serde(rename = "type")]
    pub kind: OwnerType,
}

/// Edge options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EdgeConfig {
    /// Expression (JSONata); the edge is followed only when it is true.
    #[serde(default)]
    pub condition: Option<String>,
    /// Expression (or object) applied to the message along the edge.
    #[serde(default)]
    pub mapper: Option<Value>,
}

/// A directed connection between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    /// Optional edge id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Source node id (must name a node).
    pub source: String,
    /// Target node id (must name a node).
    pub target: String,
    /// Condition and mapper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<EdgeConfig>,
}

/// One step of a flow or template. Fields not listed here (a template node's `authorization`, `mapper`, or a
/// client's own) are kept as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Unique within the graph, at most 30 characters.
    #[schema(min_length = 1, max_length = 30)]
    pub id: String,
    /// The component (`GET /components`).
    #[schema(example = "webhook")]
    pub component_id: String,
    /// The component's function.
    #[schema(example = "receive")]
    pub function: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// The component's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fields: Option<BTreeMap<String, Value>>,
    /// Runtime settings: `retry`, `timeoutMs`, `applyTransform`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub node_settings: Option<BTreeMap<String, Value>>,
    /// The id of a secret the step uses.
    #[serde(default, rename = "credentials_id", skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
    /// Any other field, kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Nodes and edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Graph {
    /// At least one node; exactly one is the trigger (no edge's target), checked at start.
    #[schema(min_items = 1)]
    pub nodes: Vec<Node>,
    /// Required when there is more than one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<Edge>>,
}

/// A flow as `POST /flows` takes it (and `PATCH`, where every field is optional). Server-managed fields (`id`,
/// `status`, `version`, `createdAt`, `updatedAt`) are ignored; `status` other than `inactive` is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowInput {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// A free string: `ordinary` (default), `realtime`, `long_running`, ….
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kind: Option<String>,
    /// Cron expression (5–7 fields) for scheduled flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The steps.
    pub graph: Graph,
    /// Owners; the caller and its tenant are added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owners: Option<Vec<Owner>>,
    /// `webhooks` (auth, `responseMode`), `executions` (`saveData`), `concurrency`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flow_settings: Option<BTreeMap<String, Value>>,
}

/// `PATCH /flows/{id}`: top-level fields to replace (shallow merge, then the whole flow is validated again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowPatch {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// A free string.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kind: Option<String>,
    /// Cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub graph: Option<Graph>,
    /// Owners; the caller is added again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owners: Option<Vec<Owner>>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flow_settings: Option<BTreeMap<String, Value>>,
}

/// One item of `PATCH /flows/bulk`: a partial flow with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlowBulkItem {
    /// The flow to change.
    pub id: String,
    /// The fields to replace.
    #[serde(flatten)]
    pub patch: FlowPatch,
}

/// Where a flow is in its life cycle; only start/stop move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowStatus {
    /// Not running; may be changed or deleted.
    Inactive,
    /// Start requested.
    Starting,
    /// Running.
    Active,
    /// Stop requested (or start failed).
    Stopping,
}

/// A stored flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    /// Flow id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// A free string (`ordinary`, `realtime`, `long_running`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Cron expression, for scheduled flows.
    pub cron: Option<String>,
    /// The steps.
    pub graph: Graph,
    /// Users and tenants that own it.
    pub owners: Vec<Owner>,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Settings (`hmacSecret` shows as `***`).
    pub flow_settings: BTreeMap<String, Value>,
    /// The template it was generated from.
    pub from_template: Option<String>,
    /// Life-cycle state.
    pub status: FlowStatus,
    /// Why the last start failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Increases by one on every update.
    #[schema(minimum = 1)]
    pub version: i64,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// An error entry of one item of a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemErrorEntry {
    /// The error.
    #[serde(flatten)]
    pub error: ErrorItem,
    /// The flow the entry is about (absent for `POST /flows` items, which have no id yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
}

/// A failed item of a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemErrors {
    /// What went wrong with this item.
    pub errors: Vec<ItemErrorEntry>,
}

/// One result of `POST /flows` (array) or `PATCH /flows/bulk`: the flow, or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FlowResult {
    /// Applied.
    Flow(Box<Flow>),
    /// Skipped.
    Failed(ItemErrors),
}

/// `{id, status}` after a start or stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FlowState {
    /// Flow id.
    pub id: String,
    /// The status now (`starting`, `stopping`, or `active`/`inactive` when nothing had to change).
    pub status: FlowStatus,
}

/// One entry of `POST /flows/multiple/start|stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FlowStateResult {
    /// Started or stopped.
    Done(FlowStateEnvelope),
    /// `Invalid id` (400) or `No flow with this ID found` (404).
    Failed(ItemErrors),
}

/// `{"msg": …}` after a delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// `Flow was successfully deleted` / `Template was successfully deleted`.
    pub msg: String,
}

crate::envelope!(
    /// `{data: Flow, meta: {}}`.
    FlowEnvelope, Flow
);
crate::envelope!(
    /// `{data: {id, status}, meta: {}}`.
    FlowStateEnvelope, FlowState
);
crate::envelope!(
    /// `{data: [Flow | {errors}], meta: {}}`: one result per item, in order.
    FlowResults, Vec<FlowResult>
);
crate::page!(
    /// `{data: [Flow], meta: {total, page, perPage, totalPages}}`.
    FlowPage, Flow
);

/// `POST /flows` body: one flow, or an array of them (at least one; needs `flows.bulk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreateFlows {
    /// One flow.
    One(Box<FlowInput>),
    /// Several (`flows.bulk`).
    Many(Vec<FlowInput>),
}

/// `POST /flows` answer: `{data: Flow}` for one, `{data: [Flow | {errors}]}` for an array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreatedFlows {
    /// One flow created.
    One(Box<FlowEnvelope>),
    /// One result per item.
    Many(FlowResults),
}

/// `PATCH /flows/bulk` body: partial flows, each with its id (a single object counts as one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BulkUpdate {
    /// Several.
    Many(Vec<FlowBulkItem>),
    /// One.
    One(Box<FlowBulkItem>),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn nodes_keep_fields_the_schema_does_not_list() {
        let stored = json!({"id": "in", "componentId": "webhook", "function": "receive",
            "authorization": {"type": "basic"}, "x-note": "mine"});
        let node: Node = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(node.extra["x-note"], "mine");
        assert_eq!(serde_json::to_value(&node).unwrap(), stored);
    }

    #[test]
    fn create_takes_one_flow_or_an_array() {
        let one = json!({"graph": {"nodes": [{"id": "a", "componentId": "c", "function": "f"}]}});
        assert!(matches!(
            serde_json::from_value(one.clone()).unwrap(),
            CreateFlows::One(_)
        ));
        let many: CreateFlows = serde_json::from_value(json!([one])).unwrap();
        assert!(matches!(many, CreateFlows::Many(v) if v.len() == 1));
    }
}
