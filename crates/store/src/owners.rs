//! Ownership tables (`owner_id`, `<key>`): the rows scope checks join on (see [`crate::ListSql::owned_by`]).

use crate::{StoreError, Tx};

/// Replaces the owners of row `id` in the ownership table `table` (columns `owner_id` and `key`).
pub async fn replace_owners(
    tx: &mut Tx,
    table: &str,
    key: &str,
    id: &str,
    owner_ids: &[&str],
) -> Result<(), StoreError> {
    sqlx::query(&format!("DELETE FROM {table} WHERE {key} = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let insert = format!("INSERT INTO {table} (owner_id, {key}) VALUES ($1, $2)");
    for owner in owner_ids {
        sqlx::query(&insert)
            .bind(*owner)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes the rows of `tables` that belong to `id` through their column `key` (owners, versions, …).
pub async fn delete_dependents(tx: &mut Tx, tables: &[&str], key: &str, id: &str) -> Result<(), StoreError> {
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table} WHERE {key} = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
