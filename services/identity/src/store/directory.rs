//! SQL for changing and deleting tenants and roles (API.md §11), kept apart from `sql.rs` to keep files small.

use flowmate_domain::{
    identity::{Revocation, Role, Tenant},
    Envelope,
};
use flowmate_store::{outbox, sqlx, Db, StoreError};

use crate::error::Result;

/// Replaces a tenant's name and status; `false` when there is no such tenant.
pub async fn update_tenant(db: &Db, t: &Tenant) -> Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE tenants SET name = $1, status = $2, updated_at = $3 WHERE id = $4")
        .bind(&t.name)
        .bind(t.status.as_str())
        .bind(&t.updated_at)
        .bind(t.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
    tx.commit().await?;
    Ok(done > 0)
}

/// Deletes a tenant with no users and its roles; `false` when there is no such tenant.
pub async fn delete_tenant(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
    sqlx::query("DELETE FROM roles WHERE tenant = $1 AND is_global = 0")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    tx.commit().await?;
    Ok(done > 0)
}

/// Replaces a role's name, permissions and description, records the revocations (its holders' tokens) and
/// writes the events; `false` when there is no such role.
pub async fn update_role(db: &Db, r: &Role, revocations: &[Revocation], events: &[Envelope]) -> Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE roles SET name = $1, permissions = $2, description = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&r.name)
    .bind(serde_json::to_string(&r.permissions).unwrap_or_else(|_| "[]".into()))
    .bind(&r.description)
    .bind(&r.updated_at)
    .bind(r.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?
    .rows_affected();
    if done == 0 {
        return Ok(false);
    }
    for revocation in revocations {
        super::sql::upsert_revocation(&mut tx, revocation).await?;
    }
    outbox::enqueue_all(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a role (users keep its id, which no longer grants anything), records the revocations and writes the
/// events; `false` when there is no such role.
pub async fn delete_role(db: &Db, id: &str, revocations: &[Revocation], events: &[Envelope]) -> Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
    if done == 0 {
        return Ok(false);
    }
    for revocation in revocations {
        super::sql::upsert_revocation(&mut tx, revocation).await?;
    }
    outbox::enqueue_all(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}
