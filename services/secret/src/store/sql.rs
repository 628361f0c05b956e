//! [`SecretStore`] over a [`Db`]: secrets and their refresh lease. One SQL text for PostgreSQL and SQLite; auth
//! clients, consent states and usages are in `clients.rs`.

use async_trait::async_trait;
use flowmate_auth::secrets::SecretBox;
use flowmate_domain::Envelope;
use flowmate_store::{like_pattern, outbox, sqlx, AnyRow, Db, ListSql, Row, StoreError};
use serde_json::Value;

use crate::{
    error::Result,
    model::{
        AuthClientRecord, ConsentState, ListQuery, RefreshState, SecretRecord, SecretStore, SecretType, Taken,
    },
};

/// The secret store on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) db: Db,
}

impl SqlStore {
    /// Wraps an opened, migrated database.
    pub fn new(db: Db) -> Self {
        SqlStore { db }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs one write statement in a transaction of its own; the rows it changed.
    pub(super) async fn write<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin().await?;
        let n = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

const COLUMNS: &str =
    "id, tenant, owner_id, name, type, public_json, value, auth_client_id, version, lease_owner, \
                       lease_until, refresh_error, refresh_failed_at, created_at, updated_at";

/// The key id written beside a sealed value (`v1` for the first format, which names none).
pub(super) fn key_id(sealed: &str) -> String {
    SecretBox::kid_of(sealed).unwrap_or("v1").to_owned()
}

pub(super) fn object(text: &str, what: &str) -> Result<serde_json::Map<String, Value>, StoreError> {
    match serde_json::from_str(text)? {
        Value::Object(map) => Ok(map),
        _ => Err(StoreError::Corrupt(format!("{what} is not an object"))),
    }
}

fn secret(row: &AnyRow) -> Result<SecretRecord, StoreError> {
    let kind: String = row.try_get("type")?;
    Ok(SecretRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        kind: SecretType::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("secret type {kind}")))?,
        display: object(&row.try_get::<String, _>("public_json")?, "public_json")?,
        sealed: row.try_get("value")?,
        auth_client_id: row.try_get::<Option<String>, _>("auth_client_id")?,
        version: row.try_get("version")?,
        refresh: RefreshState {
            lease_owner: row.try_get::<Option<String>, _>("lease_owner")?,
            lease_until: row.try_get::<Option<String>, _>("lease_until")?,
            error: row.try_get::<Option<String>, _>("refresh_error")?,
            failed_at: row.try_get::<Option<String>, _>("refresh_failed_at")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The filter of a list query (tenant, type, name search) on a table with `tenant` and `name_key` columns.
pub(super) fn list_filter(tenant: Option<&str>, q: &ListQuery) -> ListSql {
    let mut sql = ListSql::new();
    if let Some(tenant) = tenant {
        sql.equals("tenant", tenant);
    }
    if let Some(kind) = &q.kind {
        sql.equals("type", kind.clone());
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
        let p = sql.bind(like_pattern(s));
        sql.clause(format!("name_key LIKE {p} ESCAPE '\\'"));
    }
    sql
}

#[async_trait]
impl SecretStore for SqlStore {
    async fn list_secrets(&self, tenant: Option<&str>, q: &ListQuery) -> Result<(Vec<SecretRecord>, u64)> {
        let (rows, total) = list_filter(tenant, q)
            .fetch(self.db.pool(), "secrets", COLUMNS, q.page_size, q.page_number)
            .await?;
        Ok((rows.iter().map(secret).collect::<Result<_, _>>()?, total))
    }

    async fn get_secret(&self, id: &str) -> Result<Option<SecretRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM secrets WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(secret).transpose()?)
    }

    async fn insert_secret(&self, s: &SecretRecord, events: &[Envelope]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO secrets (id, tenant, owner_id, name, name_key, type, public_json, value, key_id, \
             auth_client_id, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13)",
        )
        .bind(&s.id)
        .bind(&s.tenant)
        .bind(&s.owner_id)
        .bind(&s.name)
        .bind(s.name.to_lowercase())
        .bind(s.kind.as_str())
        .bind(Value::Object(s.display.clone()).to_string())
        .bind(&s.sealed)
        .bind(key_id(&s.sealed))
        .bind(&s.auth_client_id)
        .bind(s.version)
        .bind(&s.created_at)
        .bind(&s.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_secret(&self, s: &SecretRecord, previous: i64, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE secrets SET name = $1, name_key = $2, public_json = $3, value = $4, key_id = $5, \
             auth_client_id = $6, version = $7, updated_at = $8, refresh_error = NULL, refresh_failed_at = NULL \
             WHERE id = $9 AND version = $10",
        )
        .bind(&s.name)
        .bind(s.name.to_lowercase())
        .bind(Value::Object(s.display.clone()).to_string())
        .bind(&s.sealed)
        .bind(key_id(&s.sealed))
        .bind(&s.auth_client_id)
        .bind(s.version)
        .bind(&s.updated_at)
        .bind(&s.id)
        .bind(previous)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_secret(&self, id: &str, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let deleted = sqlx::query("DELETE FROM secrets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM secret_usages WHERE secret_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn secret_users(&self, secret_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT flow_id FROM secret_usages WHERE secret_id = $1 ORDER BY flow_id")
                .bind(secret_id)
                .fetch_all(self.db.pool())
                .await
                .map_err(StoreError::from)?,
        )
    }

    async fn secrets_of_auth_client(&self, auth_client_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM secrets WHERE auth_client_id = $1 ORDER BY id")
                .bind(auth_client_id)
                .fetch_all(self.db.pool())
                .await
                .map_err(StoreError::from)?,
        )
    }

    async fn try_lease(&self, id: &str, owner: &str, until: &str, now: &str) -> Result<bool> {
        // One statement: on PostgreSQL the row lock makes concurrent takers queue and re-check the condition; on
        // SQLite the single writer does the same.
        let taken = self
            .write(
                sqlx::query(
                    "UPDATE secrets SET lease_owner = $1, lease_until = $2 WHERE id = $3 \
                     AND (lease_until IS NULL OR lease_until < $4)",
                )
                .bind(owner)
                .bind(until)
                .bind(id)
                .bind(now),
            )
            .await?;
        Ok(taken == 1)
    }

    async fn finish_refresh(
        &self,
        s: &SecretRecord,
        previous: i64,
        owner: &str,
        events: &[Envelope],
    ) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE secrets SET public_json = $1, value = $2, key_id = $3, version = $4, updated_at = $5, \
             lease_owner = NULL, lease_until = NULL, refresh_error = NULL, refresh_failed_at = NULL \
             WHERE id = $6 AND version = $7 AND lease_owner = $8",
        )
        .bind(Value::Object(s.display.clone()).to_string())
        .bind(&s.sealed)
        .bind(key_id(&s.sealed))
        .bind(s.version)
        .bind(&s.updated_at)
        .bind(&s.id)
        .bind(previous)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_refresh(&self, id: &str, owner: &str, error: &str, at: &str) -> Result<()> {
        self.write(
            sqlx::query(
                "UPDATE secrets SET lease_owner = NULL, lease_until = NULL, refresh_error = $1, \
                 refresh_failed_at = $2 WHERE id = $3 AND lease_owner = $4",
            )
            .bind(error)
            .bind(at)
            .bind(id)
            .bind(owner),
        )
        .await?;
        Ok(())
    }

    async fn release_lease(&self, id: &str, owner: &str) -> Result<()> {
        self.write(
            sqlx::query("UPDATE secrets SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
                .bind(id)
                .bind(owner),
        )
        .await?;
        Ok(())
    }

    async fn list_auth_clients(
        &self,
        tenant: Option<&str>,
        q: &ListQuery,
    ) -> Result<(Vec<AuthClientRecord>, u64)> {
        self.auth_clients(tenant, q).await
    }

    async fn get_auth_client(&self, id: &str) -> Result<Option<AuthClientRecord>> {
        self.auth_client(id).await
    }

    async fn insert_auth_client(&self, c: &AuthClientRecord) -> Result<()> {
        self.add_auth_client(c).await
    }

    async fn update_auth_client(&self, c: &AuthClientRecord, previous: i64) -> Result<bool> {
        self.replace_auth_client(c, previous).await
    }

    async fn delete_auth_client(&self, id: &str) -> Result<bool> {
        self.remove_auth_client(id).await
    }

    async fn insert_state(&self, state: &ConsentState, prune_before: &str) -> Result<()> {
        self.add_state(state, prune_before).await
    }

    async fn take_state(&self, state_hash: &str, now: &str) -> Result<Taken> {
        self.use_state(state_hash, now).await
    }

    async fn record_usage(&self, flow_id: &str, changed_at: &str, secret_ids: &[String]) -> Result<()> {
        self.set_usage(flow_id, changed_at, secret_ids).await
    }

    async fn clear_usage(&self, flow_id: &str, changed_at: &str) -> Result<()> {
        self.set_usage(flow_id, changed_at, &[]).await
    }
}
