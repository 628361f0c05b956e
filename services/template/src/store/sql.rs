//! [`TemplateStore`] over a [`Db`]: one SQL text for PostgreSQL and SQLite.

use async_trait::async_trait;
use flowmate_domain::Envelope;
use flowmate_store::{delete_dependents, outbox, replace_owners, sqlx, AnyRow, Db, ListSql, Row, StoreError};
use serde_json::Value;

use crate::{
    error::Result,
    model::{ListQuery, Scope, SortField, Template, TemplateStore},
};

/// The template store on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// Wraps an opened, migrated database.
    pub fn new(db: Db) -> Self {
        SqlStore { db }
    }
}

const COLUMNS: &str = "id, body, version, created_at, updated_at";

fn template(row: &AnyRow) -> Result<Template, StoreError> {
    let body: String = row.try_get("body")?;
    let Value::Object(body) = serde_json::from_str(&body)? else {
        return Err(StoreError::Corrupt("template body is not an object".into()));
    };
    Ok(Template {
        id: row.try_get("id")?,
        body,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn search_text(t: &Template) -> String {
    format!(
        "{}\u{1f}{}",
        t.text("name").to_lowercase(),
        t.text("description").to_lowercase()
    )
}

#[async_trait]
impl TemplateStore for SqlStore {
    async fn list(&self, scope: &Scope, q: &ListQuery) -> Result<(Vec<Template>, u64)> {
        let mut sql = ListSql::new();
        if let Some((tenant, owners)) = scope {
            sql.equals("tenant", tenant.clone());
            sql.owned_by("templates", "template_owners", "template_id", owners);
        }
        if let Some(status) = &q.status {
            sql.equals("status", status.clone());
        }
        if let Some(kind) = &q.kind {
            sql.equals("type", kind.clone());
        }
        if let Some(user) = &q.user {
            sql.owned_by(
                "templates",
                "template_owners",
                "template_id",
                std::slice::from_ref(user),
            );
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
            .fetch(self.db.pool(), "templates", COLUMNS, q.page_size, q.page_number)
            .await?;
        Ok((rows.iter().map(template).collect::<Result<_, _>>()?, total))
    }

    async fn get(&self, id: &str) -> Result<Option<Template>> {
        let sql = format!("SELECT {COLUMNS} FROM templates WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(template).transpose()?)
    }

    async fn insert(&self, t: &Template, events: &[Envelope]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO templates (id, tenant, name_key, search_text, type, status, body, version, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t.id.as_str())
        .bind(t.text("tenant"))
        .bind(t.text("name").to_lowercase())
        .bind(search_text(t))
        .bind(t.text("type"))
        .bind(t.text("status"))
        .bind(Value::Object(t.body.clone()).to_string())
        .bind(t.version)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        replace_owners(&mut tx, "template_owners", "template_id", &t.id, &t.owner_ids()).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update(&self, t: &Template, previous: &Template, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE templates SET tenant = $1, name_key = $2, search_text = $3, type = $4, status = $5, body = $6, \
             version = $7, updated_at = $8 WHERE id = $9 AND version = $10",
        )
        .bind(t.text("tenant"))
        .bind(t.text("name").to_lowercase())
        .bind(search_text(t))
        .bind(t.text("type"))
        .bind(t.text("status"))
        .bind(Value::Object(t.body.clone()).to_string())
        .bind(t.version)
        .bind(&t.updated_at)
        .bind(t.id.as_str())
        .bind(previous.version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO template_versions (template_id, version, document) VALUES ($1, $2, $3)")
            .bind(previous.id.as_str())
            .bind(previous.version)
            .bind(previous.to_json().to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        replace_owners(&mut tx, "template_owners", "template_id", &t.id, &t.owner_ids()).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, id: &str, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let deleted = sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        delete_dependents(
            &mut tx,
            &["template_owners", "template_versions"],
            "template_id",
            id,
        )
        .await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn versions(&self, id: &str) -> Result<Vec<Value>> {
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT document FROM template_versions WHERE template_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await
        .map_err(StoreError::from)?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(|e| StoreError::from(e).into()))
            .collect()
    }
}
