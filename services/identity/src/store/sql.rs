//! [`IdentityStore`] over a [`Db`]: one SQL text for both PostgreSQL and SQLite.

use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine};
use flowmate_domain::{
    identity::{Revocation, Role, Tenant},
    time, Envelope,
};
use flowmate_store::{outbox, placeholders, sqlx, Db, StoreError, Tx};

use super::rows::{self, ROLE_COLUMNS, TENANT_COLUMNS, USER_COLUMNS};
use crate::{
    error::Result,
    model::{IdentityStore, UserQuery, UserRecord},
};

/// The identity store on PostgreSQL or SQLite.
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

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

pub(super) async fn upsert_revocation(tx: &mut Tx, r: &Revocation) -> Result<(), StoreError> {
    let (key, kind, subject, at) = rows::revocation_key(r);
    sqlx::query(
        "INSERT INTO revocations (key, kind, subject, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET at = excluded.at",
    )
    .bind(key)
    .bind(kind)
    .bind(subject)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn count_users(&self) -> Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(n)
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(rows::tenant).transpose()?)
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(rows::tenant).transpose()?)
    }

    async fn list_tenants(&self, only: Option<&str>) -> Result<Vec<Tenant>> {
        let rows = match only {
            Some(id) => {
                let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
                sqlx::query(&sql).bind(id).fetch_all(self.db.pool()).await
            }
            None => {
                let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id");
                sqlx::query(&sql).fetch_all(self.db.pool()).await
            }
        }
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::tenant).collect::<Result<_, _>>()?)
    }

    async fn insert_tenant(&self, t: &Tenant) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.id.as_str())
        .bind(&t.name)
        .bind(t.status.as_str())
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_roles(&self, tenant: Option<&str>) -> Result<Vec<Role>> {
        let rows = match tenant {
            Some(t) => {
                let sql = format!(
                    "SELECT {ROLE_COLUMNS} FROM roles WHERE is_global = 1 OR tenant = $1 ORDER BY created_at, id"
                );
                sqlx::query(&sql).bind(t).fetch_all(self.db.pool()).await
            }
            None => {
                let sql = format!("SELECT {ROLE_COLUMNS} FROM roles ORDER BY created_at, id");
                sqlx::query(&sql).fetch_all(self.db.pool()).await
            }
        }
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::role).collect::<Result<_, _>>()?)
    }

    async fn roles_by_ids(&self, ids: &[String]) -> Result<Vec<Role>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.db.pool()).await.map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::role).collect::<Result<_, _>>()?)
    }

    async fn insert_role(&self, role: &Role) -> Result<()> {
        insert_role(&self.db, role, "").await
    }

    async fn ensure_role(&self, role: &Role) -> Result<()> {
        insert_role(&self.db, role, " ON CONFLICT (scope_key, name) DO NOTHING").await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<(Vec<UserRecord>, u64)> {
        let mut clauses = Vec::new();
        let mut binds: Vec<&str> = Vec::new();
        if let Some(t) = &q.tenant {
            binds.push(t);
            clauses.push(format!("tenant = ${}", binds.len()));
        }
        for (col, values) in [("username", &q.usernames), ("id", &q.ids)] {
            if !values.is_empty() {
                clauses.push(format!(
                    "{col} IN ({})",
                    placeholders(binds.len() + 1, values.len())
                ));
                binds.extend(values.iter().map(String::as_str));
            }
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM users{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(*b);
        }
        let total = count.fetch_one(self.db.pool()).await.map_err(StoreError::from)?;
        let page = match q.limit {
            Some(limit) => format!(" LIMIT {} OFFSET {}", limit.max(0), q.offset.max(0)),
            None => String::new(),
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM users{filter} ORDER BY created_at, id{page}");
        let mut select = sqlx::query(&sql);
        for b in &binds {
            select = select.bind(*b);
        }
        let rows = select.fetch_all(self.db.pool()).await.map_err(StoreError::from)?;
        let users = rows.iter().map(rows::user).collect::<Result<_, _>>()?;
        Ok((users, total.max(0) as u64))
    }

    async fn get_user(&self, id: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(rows::user).transpose()?)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = sqlx::query(&sql)
            .bind(username)
            .fetch_optional(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(row.as_ref().map(rows::user).transpose()?)
    }

    async fn insert_user(&self, u: &UserRecord, events: &[Envelope]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ({})",
            placeholders(1, 17)
        ))
        .bind(u.id.as_str())
        .bind(&u.username)
        .bind(&u.firstname)
        .bind(&u.lastname)
        .bind(u.status.as_str())
        .bind(u.tenant.as_str())
        .bind(json(&u.roles))
        .bind(json(&u.permissions))
        .bind(u.confirmed as i64)
        .bind(&u.img)
        .bind(&u.password_hash)
        .bind(u.failed_logins)
        .bind(u.first_failed_at)
        .bind(u.locked_until)
        .bind(&u.created_at)
        .bind(&u.updated_at)
        .bind(u.revision)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_user(
        &self,
        u: &UserRecord,
        revocation: Option<&Revocation>,
        events: &[Envelope],
    ) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET username = $1, firstname = $2, lastname = $3, status = $4, roles = $5, \
             permissions = $6, confirmed = $7, img = $8, password_hash = $9, updated_at = $10, revision = $11 \
             WHERE id = $12 AND revision = $13",
        )
        .bind(&u.username)
        .bind(&u.firstname)
        .bind(&u.lastname)
        .bind(u.status.as_str())
        .bind(json(&u.roles))
        .bind(json(&u.permissions))
        .bind(u.confirmed as i64)
        .bind(&u.img)
        .bind(&u.password_hash)
        .bind(&u.updated_at)
        .bind(u.revision)
        .bind(u.id.as_str())
        .bind(u.revision - 1)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        if let Some(r) = revocation {
            upsert_revocation(&mut tx, r).await?;
        }
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_user(&self, id: &str, revocation: &Revocation, events: &[Envelope]) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        upsert_revocation(&mut tx, revocation).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_login_failure(
        &self,
        id: &str,
        now: i64,
        window_start: i64,
        max: i64,
        locked_until: i64,
    ) -> Result<bool> {
        // One transaction: the UPDATE locks the row (PostgreSQL) or the database (SQLite's single writer), so
        // concurrent failures are counted one after the other.
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE users SET \
             failed_logins = CASE WHEN first_failed_at <= $1 THEN 1 ELSE failed_logins + 1 END, \
             first_failed_at = CASE WHEN first_failed_at <= $1 THEN $2 ELSE first_failed_at END \
             WHERE id = $3",
        )
        .bind(window_start)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let failed: i64 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let locked = failed >= max;
        if locked {
            sqlx::query(
                "UPDATE users SET failed_logins = 0, first_failed_at = 0, locked_until = $1 WHERE id = $2",
            )
            .bind(locked_until)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        tx.commit().await?;
        Ok(locked)
    }

    async fn clear_login_failures(&self, id: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE users SET failed_logins = 0, first_failed_at = 0, locked_until = 0 WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_revocation(&self, revocation: &Revocation, events: &[Envelope]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        upsert_revocation(&mut tx, revocation).await?;
        outbox::enqueue_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_revocations(&self, now: i64) -> Result<Vec<Revocation>> {
        let rows = sqlx::query("SELECT kind, subject, at FROM revocations WHERE kind = 'user' OR at > $1")
            .bind(now)
            .fetch_all(self.db.pool())
            .await
            .map_err(StoreError::from)?;
        Ok(rows.iter().map(rows::revocation).collect::<Result<_, _>>()?)
    }

    async fn signing_key(&self) -> Result<Option<(String, Vec<u8>)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kid, private_key FROM signing_keys ORDER BY created_at, kid LIMIT 1")
                .fetch_optional(self.db.pool())
                .await
                .map_err(StoreError::from)?;
        match row {
            None => Ok(None),
            Some((kid, b64)) => {
                let der = STANDARD
                    .decode(b64)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Some((kid, der)))
            }
        }
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<bool> {
        super::directory::update_tenant(&self.db, tenant).await
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        super::directory::delete_tenant(&self.db, id).await
    }

    async fn update_role(
        &self,
        role: &Role,
        revocations: &[Revocation],
        events: &[Envelope],
    ) -> Result<bool> {
        super::directory::update_role(&self.db, role, revocations, events).await
    }

    async fn delete_role(&self, id: &str, revocations: &[Revocation], events: &[Envelope]) -> Result<bool> {
        super::directory::delete_role(&self.db, id, revocations, events).await
    }

    async fn ensure_signing_key(&self, kid: &str, pkcs8: &[u8]) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(kid)
        .bind(STANDARD.encode(pkcs8))
        .bind(time::now_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_role(db: &Db, r: &Role, on_conflict: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO roles (id, name, tenant, scope_key, permissions, description, scope, is_global, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10){on_conflict}"
    );
    let mut tx = db.begin().await?;
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(&r.name)
        .bind(&r.tenant)
        .bind(r.tenant.clone().unwrap_or_default())
        .bind(json(&r.permissions))
        .bind(&r.description)
        .bind(&r.scope)
        .bind(r.is_global as i64)
        .bind(&r.created_at)
        .bind(&r.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    tx.commit().await?;
    Ok(())
}
