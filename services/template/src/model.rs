//! The template as stored, the list query, and what the core needs from storage (a port).

use async_trait::async_trait;
use flowmate_domain::Envelope;
use serde_json::{Map, Value};

use crate::error::Result;

/// A stored template: its validated document plus the server-managed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Template id.
    pub id: String,
    /// The document (name, description, type, status, cron, graph, owners, tenant, flowSettings, ...).
    pub body: Map<String, Value>,
    /// Incremented on every update.
    pub version: i64,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl Template {
    /// A text field of the document.
    pub fn text(&self, key: &str) -> &str {
        self.body.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// The ids of its owners.
    pub fn owner_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .body
            .get("owners")
            .and_then(Value::as_array)
            .map(|owners| {
                owners
                    .iter()
                    .filter_map(|o| o.get("id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The API view: the document with `id`, `version`, `createdAt` and `updatedAt`.
    pub fn to_json(&self) -> Value {
        let mut out = self.body.clone();
        out.insert("id".into(), Value::String(self.id.clone()));
        out.insert("version".into(), Value::from(self.version));
        out.insert("createdAt".into(), Value::String(self.created_at.clone()));
        out.insert("updatedAt".into(), Value::String(self.updated_at.clone()));
        Value::Object(out)
    }
}

/// How lists are sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// Creation time (default).
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Name (case-insensitive).
    Name,
}

/// A validated list query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size, 1..=1000.
    pub page_size: u32,
    /// 1-based page.
    pub page_number: u32,
    /// `draft` or `published`.
    pub status: Option<String>,
    /// Only this type.
    pub kind: Option<String>,
    /// Only templates this user owns (within the caller's scope).
    pub user: Option<String>,
    /// Sort field.
    pub sort: SortField,
    /// Descending order.
    pub descending: bool,
    /// Case-insensitive literal substring of name or description.
    pub search: Option<String>,
}

/// What a non-admin caller sees: templates of its tenant owned by it or its tenant. `None`: everything.
pub type Scope = Option<(String, Vec<String>)>;

/// Persistence for the template core; events go to the outbox in the same transaction as the change.
#[async_trait]
pub trait TemplateStore: Send + Sync + 'static {
    /// A page of templates in scope and the total matching.
    async fn list(&self, scope: &Scope, query: &ListQuery) -> Result<(Vec<Template>, u64)>;
    /// A template by id.
    async fn get(&self, id: &str) -> Result<Option<Template>>;
    /// Inserts a template with its events.
    async fn insert(&self, template: &Template, events: &[Envelope]) -> Result<()>;
    /// Replaces `previous` (still at its version) with `template`, keeping `previous` as a version; `false` when
    /// another change came first.
    async fn update(&self, template: &Template, previous: &Template, events: &[Envelope]) -> Result<bool>;
    /// Deletes a template and its versions; `false` when it was not there.
    async fn delete(&self, id: &str, events: &[Envelope]) -> Result<bool>;
    /// Previous versions, newest first.
    async fn versions(&self, id: &str) -> Result<Vec<Value>>;
}
