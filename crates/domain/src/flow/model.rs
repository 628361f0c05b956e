//! The flow document and its parts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::FlowId;

/// Where a flow is in its life cycle. Only start/stop (and the execution service's confirmations) move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowStatus {
    /// Not running; may be changed or deleted.
    Inactive,
    /// Start requested; waiting for the execution service to confirm.
    Starting,
    /// Running: its triggers are registered.
    Active,
    /// Stop requested (or start failed); waiting for the execution service to confirm.
    Stopping,
}

impl FlowStatus {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Inactive => "inactive",
            FlowStatus::Starting => "starting",
            FlowStatus::Active => "active",
            FlowStatus::Stopping => "stopping",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<FlowStatus> {
        match s {
            "inactive" => Some(FlowStatus::Inactive),
            "starting" => Some(FlowStatus::Starting),
            "active" => Some(FlowStatus::Active),
            "stopping" => Some(FlowStatus::Stopping),
            _ => None,
        }
    }
}

/// What owns a flow or a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    /// A user (the `id` is a user id).
    User,
    /// A tenant (the `id` is a tenant id): every member of the tenant owns it.
    Tenant,
}

/// An owner of a flow: a user or a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// User or tenant id.
    pub id: String,
    /// `user` or `tenant`.
    #[serde(rename = "type")]
    pub kind: OwnerKind,
}

/// Edge options: a condition that gates the edge and a mapper applied along it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeConfig {
    /// Expression; the edge is followed only when it is true.
    #[serde(default)]
    pub condition: Option<String>,
    /// Expression (or object) applied to the message along the edge.
    #[serde(default)]
    pub mapper: Option<Value>,
}

/// A directed connection between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Optional edge id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Source node id.
    pub source: String,
    /// Target node id.
    pub target: String,
    /// Options.
    #[serde(default)]
    pub config: EdgeConfig,
}

/// One step of a flow. Fields it does not know are kept in `extra` and come back as they were stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Unique within the flow, at most 30 characters.
    pub id: String,
    /// The component (catalogue id).
    pub component_id: String,
    /// The component's function.
    pub function: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Component configuration.
    #[serde(default = "empty_object")]
    pub fields: Value,
    /// Runtime settings (retry, timeout, transforms).
    #[serde(default = "empty_object")]
    pub node_settings: Value,
    /// A credentials secret.
    #[serde(default, rename = "credentials_id")]
    pub credentials_id: Option<String>,
    /// Fields a client stored that FlowMate does not read (API.md: documents round-trip): kept and returned.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// Nodes and edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// At least one node.
    pub nodes: Vec<Node>,
    /// Required when there is more than one node.
    #[serde(default)]
    pub edges: Vec<Edge>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// The user-editable part of a flow (what `POST` and `PATCH` change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowBody {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `ordinary`, `realtime` or `long_running`.
    #[serde(default = "ordinary", rename = "type")]
    pub kind: String,
    /// Cron expression for scheduled flows.
    #[serde(default)]
    pub cron: Option<String>,
    /// The steps.
    pub graph: Graph,
    /// Users and tenants that own the flow.
    #[serde(default)]
    pub owners: Vec<Owner>,
    /// The tenant the flow belongs to.
    #[serde(default)]
    pub tenant: String,
    /// Free settings (`webhooks`, `executions`, ...).
    #[serde(default = "empty_object")]
    pub flow_settings: Value,
    /// The template it was generated from.
    #[serde(default)]
    pub from_template: Option<String>,
}

fn ordinary() -> String {
    "ordinary".into()
}

/// A stored flow as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    /// Flow id.
    pub id: FlowId,
    /// The editable part, flattened into the document.
    #[serde(flatten)]
    pub body: FlowBody,
    /// Life-cycle state.
    pub status: FlowStatus,
    /// Why the last start failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Incremented on every update.
    pub version: i64,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl Flow {
    /// Whether `owner_ids` (a user and its tenant) includes an owner of this flow.
    pub fn is_owned_by_any(&self, owner_ids: &[&str]) -> bool {
        self.body
            .owners
            .iter()
            .any(|o| owner_ids.contains(&o.id.as_str()))
    }
}
