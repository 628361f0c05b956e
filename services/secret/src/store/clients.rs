//! Auth clients, consent states and which flows use which secret: the rest of [`SqlStore`].

use flowmate_store::{sqlx, AnyRow, Row, StoreError};
use serde_json::Value;

use super::sql::{key_id, list_filter, object, SqlStore};
use crate::{
    error::Result,
    model::{AuthClientRecord, ConsentState, ListQuery, Taken},
};

const CLIENT_COLUMNS: &str =
    "id, tenant, owner_id, public_json, client_secret, version, created_at, updated_at";

fn auth_client(row: &AnyRow) -> Result<AuthClientRecord, StoreError> {
    Ok(AuthClientRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        owner_id: row.try_get("owner_id")?,
        display: object(&row.try_get::<String, _>("public_json")?, "public_json")?,
        sealed_secret: row.try_get("client_secret")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn state(row: &AnyRow) -> Result<ConsentState, StoreError> {
    Ok(ConsentState {
        state_hash: row.try_get("state_hash")?,
        auth_client_id: row.try_get("auth_client_id")?,
        tenant: row.try_get("tenant")?,
        user_id: row.try_get("user_id")?,
        secret_name: row.try_get("secret_name")?,
        scope: row.try_get("scope")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get::<Option<String>, _>("used_at")?,
        created_at: row.try_get("created_at")?,
    })
}

impl SqlStore {
    pub(super) async fn auth_clients(
        &self,
        tenant: Option<&str>,
        q: &ListQuery,
    ) -> Result<(Vec<AuthClientRecord>, u64)> {
        // Auth clients have one type; a type filter other than theirs matches none.
        let mut q = q.clone();
        let other_type = q.kind.take().is_some_and(|k| k != "OA2_AUTHORIZATION_CODE");
        let mut sql = list_filter(tenant, &q);
        if other_type {
            sql.clause("1 = 0".into());
        }
        let (rows, total) = sql
            .fetch(
                self.db.pool(),
                "auth_clients",
                CLIENT_COLUMNS,
                q.page_size,
                q.page_number,
            )
            .await?;
        Ok((rows.iter().map(auth_client).collect::<Result<_, _>>()?, total))
    }

    pub(super) async fn auth_client(&self, id: &str) -> Result<Option<AuthClientRecord>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM auth_clients WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(auth_client).transpose()?)
    }

    pub(super) async fn add_auth_client(&self, c: &AuthClientRecord) -> Result<()> {
        self.write(
            sqlx::query(
                "INSERT INTO auth_clients (id, tenant, owner_id, name, name_key, public_json, client_secret, \
                 key_id, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&c.id)
            .bind(&c.tenant)
            .bind(&c.owner_id)
            .bind(c.text("name"))
            .bind(c.text("name").to_lowercase())
            .bind(Value::Object(c.display.clone()).to_string())
            .bind(&c.sealed_secret)
            .bind(key_id(&c.sealed_secret))
            .bind(c.version)
            .bind(&c.created_at)
            .bind(&c.updated_at),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn replace_auth_client(&self, c: &AuthClientRecord, previous: i64) -> Result<bool> {
        let n = self
            .write(
                sqlx::query(
                    "UPDATE auth_clients SET name = $1, name_key = $2, public_json = $3, client_secret = $4, \
                     key_id = $5, version = $6, updated_at = $7 WHERE id = $8 AND version = $9",
                )
                .bind(c.text("name"))
                .bind(c.text("name").to_lowercase())
                .bind(Value::Object(c.display.clone()).to_string())
                .bind(&c.sealed_secret)
                .bind(key_id(&c.sealed_secret))
                .bind(c.version)
                .bind(&c.updated_at)
                .bind(&c.id)
                .bind(previous),
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn remove_auth_client(&self, id: &str) -> Result<bool> {
        let n = self
            .write(sqlx::query("DELETE FROM auth_clients WHERE id = $1").bind(id))
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn add_state(&self, s: &ConsentState, prune_before: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM oauth_states WHERE created_at < $1")
            .bind(prune_before)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, auth_client_id, tenant, user_id, secret_name, scope, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.state_hash)
        .bind(&s.auth_client_id)
        .bind(&s.tenant)
        .bind(&s.user_id)
        .bind(&s.secret_name)
        .bind(&s.scope)
        .bind(&s.expires_at)
        .bind(&s.created_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn use_state(&self, hash: &str, now: &str) -> Result<Taken> {
        let mut tx = self.db.begin().await?;
        // The conditional update decides who uses it: of two callbacks racing with one state, one changes the
        // row and the other finds it used.
        let used =
            sqlx::query("UPDATE oauth_states SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL")
                .bind(now)
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .rows_affected();
        let row = sqlx::query(
            "SELECT state_hash, auth_client_id, tenant, user_id, secret_name, scope, expires_at, used_at, \
             created_at FROM oauth_states WHERE state_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(match (used, row) {
            (1, Some(row)) => Taken::Fresh(Box::new(state(&row)?)),
            (_, Some(_)) => Taken::Used,
            (_, None) => Taken::Unknown,
        })
    }

    pub(super) async fn set_usage(
        &self,
        flow_id: &str,
        changed_at: &str,
        secret_ids: &[String],
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let applied: Option<String> =
            sqlx::query_scalar("SELECT changed_at FROM flow_marks WHERE flow_id = $1")
                .bind(flow_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        if applied.is_some_and(|a| a.as_str() > changed_at) {
            return Ok(()); // a later flow event was applied already
        }
        sqlx::query("DELETE FROM flow_marks WHERE flow_id = $1")
            .bind(flow_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query("INSERT INTO flow_marks (flow_id, changed_at) VALUES ($1, $2)")
            .bind(flow_id)
            .bind(changed_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query("DELETE FROM secret_usages WHERE flow_id = $1")
            .bind(flow_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let mut ids: Vec<&String> = secret_ids.iter().collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            sqlx::query("INSERT INTO secret_usages (secret_id, flow_id) VALUES ($1, $2)")
                .bind(id)
                .bind(flow_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        }
        tx.commit().await?;
        Ok(())
    }
}
