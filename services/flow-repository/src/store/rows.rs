//! Row decoding and the columns derived from a flow for filtering, sorting and searching.

use flowmate_domain::flow::{Flow, FlowStatus};
use flowmate_store::{AnyRow, Row, StoreError};

/// Columns of `flows` in the order [`flow`] reads them.
pub const COLUMNS: &str = "id, status, status_reason, body, version, created_at, updated_at";

/// Decodes a flow row.
pub fn flow(row: &AnyRow) -> Result<Flow, StoreError> {
    let status: String = row.try_get("status")?;
    let body: String = row.try_get("body")?;
    Ok(Flow {
        id: row.try_get::<String, _>("id")?.into(),
        body: serde_json::from_str(&body)?,
        status: FlowStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        status_reason: row.try_get::<Option<String>, _>("status_reason")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// What `search` matches: name and description, lower-cased, kept apart by a unit separator.
pub fn search_text(flow: &Flow) -> String {
    format!(
        "{}\u{1f}{}",
        flow.body.name.to_lowercase(),
        flow.body.description.to_lowercase()
    )
}

/// The distinct owner ids of a flow.
pub fn owner_ids(flow: &Flow) -> Vec<&str> {
    let mut ids: Vec<&str> = flow.body.owners.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
