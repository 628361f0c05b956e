//! The SQL of a key rotation: rows whose sealed value names another key than the sealing one, and a compare-and-
//! swap that re-seals one (so a change written meanwhile is never overwritten).

use flowmate_store::{sqlx, StoreError};

use super::sql::{key_id, SqlStore};

/// A table holding sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// `secrets.value`.
    Secrets,
    /// `auth_clients.client_secret`.
    AuthClients,
}

impl SealedTable {
    /// Every table with sealed values.
    pub const ALL: [SealedTable; 2] = [SealedTable::Secrets, SealedTable::AuthClients];

    /// Table and column.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            SealedTable::Secrets => ("secrets", "value"),
            SealedTable::AuthClients => ("auth_clients", "client_secret"),
        }
    }
}

impl SqlStore {
    /// Up to `limit` rows of `table` after `after` (by id) not sealed with `kid`: `(id, sealed)`.
    pub async fn sealed_with_other_keys(
        &self,
        table: SealedTable,
        kid: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (t, column) = table.names();
        let sql = format!(
            "SELECT id, {column} FROM {t} WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT {}",
            limit.max(1)
        );
        Ok(sqlx::query_as(&sql)
            .bind(kid)
            .bind(after)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Replaces the sealed value of `id` by `resealed` if it is still `previous`; `false` when it changed.
    pub async fn reseal_row(
        &self,
        table: SealedTable,
        id: &str,
        previous: &str,
        resealed: &str,
    ) -> Result<bool, StoreError> {
        let (t, column) = table.names();
        let sql = format!("UPDATE {t} SET {column} = $1, key_id = $2 WHERE id = $3 AND {column} = $4");
        let n = self
            .write(
                sqlx::query(&sql)
                    .bind(resealed)
                    .bind(key_id(resealed))
                    .bind(id)
                    .bind(previous),
            )
            .await?;
        Ok(n == 1)
    }

    /// How many rows of `table` are not sealed with `kid`.
    pub async fn count_sealed_with_other_keys(
        &self,
        table: SealedTable,
        kid: &str,
    ) -> Result<u64, StoreError> {
        let (t, _) = table.names();
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE key_id <> $1"))
            .bind(kid)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n.max(0) as u64)
    }
}
