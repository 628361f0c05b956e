//! What the flow core needs from storage (a port), and the query and transition types it speaks.

use async_trait::async_trait;
use flowmate_domain::{
    flow::{Flow, FlowStatus},
    Envelope,
};

use crate::error::Result;

/// How lists are sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// Creation time (default).
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Name.
    Name,
}

/// A list query (already validated by the gateway's parser).
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size, 1..=1000.
    pub page_size: u32,
    /// 1-based page.
    pub page_number: u32,
    /// Only this status.
    pub status: Option<FlowStatus>,
    /// Only this type.
    pub kind: Option<String>,
    /// Only flows this user owns (within the caller's scope).
    pub user: Option<String>,
    /// Only flows generated from this template.
    pub from_template: Option<String>,
    /// Sort field.
    pub sort: SortField,
    /// Descending order.
    pub descending: bool,
    /// Case-insensitive literal substring of name or description.
    pub search: Option<String>,
}

/// What a non-admin caller sees: flows of its tenant that it or its tenant owns.
#[derive(Debug, Clone)]
pub struct TenantScope {
    /// The caller's tenant; flows of other tenants are never visible.
    pub tenant: String,
    /// Owner ids that grant access: the caller and its tenant.
    pub owners: Vec<String>,
}

/// Whose flows a caller sees: `None` for global admins.
pub type Scope = Option<TenantScope>;

/// A status change and what it announces.
pub struct Transition<'a> {
    /// The change applies only from these states.
    pub from: &'a [FlowStatus],
    /// The new state.
    pub to: FlowStatus,
    /// What happens to `statusReason`.
    pub reason: Reason,
    /// The event to write with the change, built from the updated flow.
    pub announce: Option<&'a (dyn Fn(&Flow) -> Envelope + Send + Sync)>,
    /// Makes the change idempotent: a second transition with the same id does nothing.
    pub event_id: Option<&'a str>,
}

/// What a transition does to `statusReason`.
#[derive(Debug, Clone)]
pub enum Reason {
    /// Leave it as it is.
    Keep,
    /// Remove it.
    Clear,
    /// Set it.
    Set(String),
}

/// What a transition did.
#[derive(Debug)]
pub enum Outcome {
    /// The flow moved; here it is.
    Changed(Flow),
    /// The flow was in another state; unchanged.
    Unchanged(Flow),
    /// This event was handled before.
    Duplicate,
    /// No such flow.
    Missing,
}

/// Persistence for the flow core. Events are written to the outbox in the same transaction as the change.
#[async_trait]
pub trait FlowStore: Send + Sync + 'static {
    /// A page of flows in scope matching the query, and the total matching.
    async fn list(&self, scope: &Scope, query: &ListQuery) -> Result<(Vec<Flow>, u64)>;
    /// A flow by id.
    async fn get(&self, id: &str) -> Result<Option<Flow>>;
    /// Inserts new flows (one transaction each) with their events.
    async fn insert(&self, flow: &Flow, events: &[Envelope]) -> Result<()>;
    /// Replaces an inactive flow whose version is `expected_version`; `false` when it is no longer so.
    async fn update(&self, flow: &Flow, previous: &Flow, events: &[Envelope]) -> Result<bool>;
    /// Deletes an inactive flow; `false` when it is missing or no longer inactive.
    async fn delete(&self, id: &str, events: &[Envelope]) -> Result<bool>;
    /// Applies a status transition atomically.
    async fn transition(&self, id: &str, transition: Transition<'_>) -> Result<Outcome>;
    /// Active flows with ids after `after`, by id, at most `limit`.
    async fn list_active(&self, after: &str, limit: u32) -> Result<Vec<Flow>>;
    /// Those of `ids` that are active.
    async fn active_by_ids(&self, ids: &[String]) -> Result<Vec<Flow>>;
    /// A bulk create (`POST /flows` with an array) is done: refresh what the database plans with, in the
    /// background. Nothing by default.
    async fn after_bulk_create(&self) {}
    /// Forgets processed event ids older than `before` (RFC 3339); returns how many.
    async fn prune_processed(&self, before: &str) -> Result<u64>;
}
