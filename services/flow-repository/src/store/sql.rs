//! [`FlowStore`] over a [`Db`]: one SQL text for PostgreSQL and SQLite.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use async_trait::async_trait;
use flowmate_domain::{flow::Flow, time, Envelope};
use flowmate_store::{delete_dependents, outbox, replace_owners, sqlx, Db, ListSql, StoreError, Tx};

use super::rows::{self, owner_ids, search_text, COLUMNS};
use crate::{
    error::Result,
    model::{FlowStore, ListQuery, Outcome, Reason, Scope, SortField, Transition},
};

/// The flow store on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
    /// A statistics refresh after a bulk create runs (one at a time).
    refreshing: Arc<AtomicBool>,
}

impl SqlStore {
    /// Wraps an opened, migrated database.
    pub fn new(db: Db) -> Self {
        SqlStore {
            db,
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The `owned_by_tenant` column: 1 when the flow's tenant is among its owner ids (what the scope check of
/// [`ListSql::tenant_scope`] relies on), else 0.
fn owned_by_tenant(flow: &Flow) -> i64 {
    i64::from(owner_ids(flow).contains(&flow.body.tenant.as_str()))
}

fn body_json(flow: &Flow) -> Result<String, StoreError> {
    Ok(serde_json::to_string(&flow.body)?)
}

async fn select_flow(tx: &mut Tx, id: &str) -> Result<Option<Flow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM flows WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(rows::flow).transpose()
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn list(&self, scope: &Scope, q: &ListQuery) -> Result<(Vec<Flow>, u64)> {
        let mut sql = ListSql::new();
        sql.count_all_from("flow_tenant_counts");
        if let Some(scope) = scope {
            let others: Vec<String> = scope
                .owners
                .iter()
                .filter(|o| **o != scope.tenant)
                .cloned()
                .collect();
            sql.tenant_scope("flows", "flow_owners", "flow_id", &scope.tenant, &others);
            sql.count_owned_from("flow_tenant_counts", "flow_private_counts");
        }
        if let Some(status) = q.status {
            sql.equals("status", status.as_str());
        }
        if let Some(kind) = &q.kind {
            sql.equals("type", kind.clone());
        }
        if let Some(user) = &q.user {
            sql.owned_by("flows", "flow_owners", "flow_id", std::slice::from_ref(user));
        }
        if let Some(t) = &q.from_template {
            sql.equals("from_template", t.clone());
        }
        if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
            sql.search(s);
        }
        let sort = match q.sort {
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::Name => "name_key",
        };
        sql.order_by(sort, q.descending);
        let (rows, total) = sql
            .fetch(self.db.pool(), "flows", COLUMNS, q.page_size, q.page_number)
            .await?;
        Ok((rows.iter().map(rows::flow).collect::<Result<_, _>>()?, total))
    }

    async fn get(&self, id: &str) -> Result<Option<Flow>> {
        let sql = format!("SELECT {COLUMNS} FROM flows WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(rows::flow).transpose()?)
    }

    async fn insert(&self, flow: &Flow, events: &[Envelope]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO flows (id, tenant, name, name_key, search_text, type, status, status_reason, from_template, \
             body, version, created_at, updated_at, owned_by_tenant) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(flow.id.as_str())
        .bind(flow.body.tenant.as_str())
        .bind(&flow.body.name)
        .bind(flow.body.name.to_lowercase())
        .bind(search_text(flow))
        .bind(&flow.body.kind)
        .bind(flow.status.as_str())
        .bind(&flow.status_reason)
        .bind(&flow.body.from_template)
        .bind(body_json(flow)?)
        .bind(flow.version)
        .bind(&flow.created_at)
        .bind(&flow.updated_at)
        .bind(owned_by_tenant(flow))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        replace_owners(&mut tx, "flow_owners", "flow_id", &flow.id, &owner_ids(flow)).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update(&self, flow: &Flow, previous: &Flow, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE flows SET tenant = $1, name = $2, name_key = $3, search_text = $4, type = $5, \
             status_reason = NULL, from_template = $6, body = $7, version = $8, updated_at = $9, \
             owned_by_tenant = $10 WHERE id = $11 AND version = $12 AND status = 'inactive'",
        )
        .bind(flow.body.tenant.as_str())
        .bind(&flow.body.name)
        .bind(flow.body.name.to_lowercase())
        .bind(search_text(flow))
        .bind(&flow.body.kind)
        .bind(&flow.body.from_template)
        .bind(body_json(flow)?)
        .bind(flow.version)
        .bind(&flow.updated_at)
        .bind(owned_by_tenant(flow))
        .bind(flow.id.as_str())
        .bind(previous.version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO flow_versions (flow_id, version, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(previous.id.as_str())
            .bind(previous.version)
            .bind(body_json(previous)?)
            .bind(time::now_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        replace_owners(&mut tx, "flow_owners", "flow_id", &flow.id, &owner_ids(flow)).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, id: &str, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let deleted = sqlx::query("DELETE FROM flows WHERE id = $1 AND status = 'inactive'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        delete_dependents(&mut tx, &["flow_owners", "flow_versions"], "flow_id", id).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn transition(&self, id: &str, t: Transition<'_>) -> Result<Outcome> {
        let mut tx = self.db.begin().await?;
        if let Some(event_id) = t.event_id {
            let first = sqlx::query("INSERT INTO processed_events (id, processed_at) VALUES ($1, $2)")
                .bind(event_id)
                .bind(time::now_string())
                .execute(&mut *tx)
                .await;
            match first.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::UniqueViolation) => return Ok(Outcome::Duplicate),
                Err(e) => return Err(e.into()),
            }
        }
        let mut n = 2;
        let reason = match &t.reason {
            Reason::Keep => "status_reason".to_owned(),
            Reason::Clear => "NULL".to_owned(),
            Reason::Set(_) => {
                n += 1;
                format!("${n}")
            }
        };
        let from: Vec<String> = t
            .from
            .iter()
            .map(|_| {
                n += 1;
                format!("${n}")
            })
            .collect();
        let sql = format!(
            "UPDATE flows SET status = $1, updated_at = $2, status_reason = {reason} WHERE status IN ({}) AND id = ${}",
            from.join(", "),
            n + 1
        );
        let mut update = sqlx::query(&sql).bind(t.to.as_str()).bind(time::now_string());
        if let Reason::Set(r) = &t.reason {
            update = update.bind(r.as_str());
        }
        for s in t.from {
            update = update.bind(s.as_str());
        }
        let changed = update
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        let Some(flow) = select_flow(&mut tx, id).await? else {
            tx.commit().await?;
            return Ok(Outcome::Missing);
        };
        if changed == 0 {
            tx.commit().await?;
            return Ok(Outcome::Unchanged(flow));
        }
        if let Some(announce) = t.announce {
            outbox::enqueue(&mut tx, &announce(&flow)).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Changed(flow))
    }

    async fn list_active(&self, after: &str, limit: u32) -> Result<Vec<Flow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM flows WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::flow).collect::<Result<_, _>>()?)
    }

    async fn active_by_ids(&self, ids: &[String]) -> Result<Vec<Flow>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM flows WHERE status = 'active' AND id IN ({}) ORDER BY id",
            flowmate_store::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.db.pool()).await.map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::flow).collect::<Result<_, _>>()?)
    }

    async fn after_bulk_create(&self) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (db, refreshing) = (self.db.clone(), self.refreshing.clone());
        tokio::spawn(async move {
            if let Err(error) = db.refresh_tables(&["flows", "flow_owners"]).await {
                tracing::warn!(%error, "refreshing the flow tables' statistics failed");
            }
            refreshing.store(false, Ordering::Release);
        });
    }

    async fn prune_processed(&self, before: &str) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
