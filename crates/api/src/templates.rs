//! Templates (API.md §4) and generating flows from them, for the OpenAPI document and for clients. A template keeps
//! every field a client stored (`additionalProperties`), its nodes too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::flows::{Graph, Owner};

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// Template id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// A free string (`ordinary` by default).
    #[serde(rename = "type")]
    pub kind: String,
    /// `draft` (default) or `published`, or whatever an OIH client sent (kept).
    pub status: String,
    /// Cron expression.
    pub cron: Option<String>,
    /// The steps (nodes may carry `authorization` and `mapper`).
    pub graph: Graph,
    /// Users and tenants that own it.
    pub owners: Vec<Owner>,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Settings copied into generated flows.
    pub flow_settings: BTreeMap<String, Value>,
    /// Increases by one on every update.
    #[schema(minimum = 1)]
    pub version: i64,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Any other field a client stored, kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `POST /templates` body (and `PATCH`, where every field is optional): a flow document plus `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInput {
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
    /// `draft` (default) or `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<String>,
    /// Cron expression (5–7 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The steps.
    pub graph: Graph,
    /// Owners; the caller and its tenant are added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owners: Option<Vec<Owner>>,
    /// Settings (no `webhooks.hmacSecret`: set that on the generated flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flow_settings: Option<BTreeMap<String, Value>>,
}

/// `PATCH /templates/{id}`: top-level fields to replace (shallow merge, then validated again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePatch {
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
    /// `draft` or `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<String>,
    /// Cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub graph: Option<Graph>,
    /// Owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owners: Option<Vec<Owner>>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flow_settings: Option<BTreeMap<String, Value>>,
}

/// `POST /templates/{id}/generate` body (optional): flow fields deep-merged over the template — objects by key,
/// arrays by index (`{"graph":{"nodes":[{}, {"fields":{"url":"…"}}]}}` patches the second node's `url`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateFlow {
    /// The new flow's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// Patches of the template's graph (by index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub graph: Option<BTreeMap<String, Value>>,
    /// Settings merged over the template's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flow_settings: Option<BTreeMap<String, Value>>,
    /// Any other flow field.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

crate::envelope!(
    /// `{data: Template, meta: {}}`.
    TemplateEnvelope, Template
);
crate::envelope!(
    /// `{data: [Template], meta: {}}`: previous versions, newest first.
    TemplateVersions, Vec<Template>
);
crate::page!(
    /// `{data: [Template], meta: {total, page, perPage, totalPages}}`.
    TemplatePage, Template
);
