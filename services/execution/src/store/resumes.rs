//! Resumes waiting to be applied (a `wait.event` resume call, a child execution's result) and the keys
//! `dedupe.check` has seen.

use flowmate_domain::time;
use flowmate_store::{Db, Row, StoreError, Tx};

use super::rows::json_text;
use crate::model::Resume;

/// Records a resume of `execution_id` at `node` under `key`, and makes the execution due now if it is parked.
/// `false`: that resume was recorded before (a token used twice, a child's result delivered again).
pub(super) async fn add(db: &Db, execution_id: &str, resume: &Resume) -> Result<bool, StoreError> {
    let now = time::now_string();
    let mut tx = db.begin().await?;
    let added = sqlx::query(
        "INSERT INTO execution_resumes (execution_id, node_id, resume_key, body, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (execution_id, node_id, resume_key) DO NOTHING",
    )
    .bind(execution_id)
    .bind(&resume.node)
    .bind(&resume.key)
    .bind(json_text(&resume.body))
    .bind(&now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        sqlx::query(
            "UPDATE executions SET waiting_until = $2 WHERE id = $1 AND waiting_until IS NOT NULL \
             AND waiting_until > $2",
        )
        .bind(execution_id)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(added > 0)
}

/// The resumes recorded for `execution_id`, oldest first.
pub(super) async fn of(db: &Db, execution_id: &str) -> Result<Vec<Resume>, StoreError> {
    let rows = sqlx::query(
        "SELECT node_id, resume_key, body FROM execution_resumes WHERE execution_id = $1 \
         ORDER BY created_at, node_id, resume_key",
    )
    .bind(execution_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            Ok(Resume {
                node: r.try_get("node_id")?,
                key: r.try_get("resume_key")?,
                body: serde_json::from_str(&body).unwrap_or_default(),
            })
        })
        .collect()
}

/// Deletes the resumes a checkpoint of `execution_id` applied (in the checkpoint's transaction).
pub(super) async fn remove(
    tx: &mut Tx,
    execution_id: &str,
    applied: &[(String, String)],
) -> Result<(), StoreError> {
    for (node, key) in applied {
        sqlx::query(
            "DELETE FROM execution_resumes WHERE execution_id = $1 AND node_id = $2 AND resume_key = $3",
        )
        .bind(execution_id)
        .bind(node)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Claims `key` for `flow_id` until `expires_at` unless someone else holds it unexpired. `true`: the claim is
/// `claimant`'s (new, taken over from an expired one, or its own from before: a redelivered step).
pub(super) async fn dedupe(
    db: &Db,
    flow_id: &str,
    key: &str,
    claimant: &str,
    expires_at: &str,
) -> Result<bool, StoreError> {
    let now = time::now_string();
    let taken = sqlx::query(
        "INSERT INTO dedupe_keys (flow_id, dedupe_key, claimant, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow_id, dedupe_key) DO UPDATE SET claimant = excluded.claimant, \
         expires_at = excluded.expires_at WHERE dedupe_keys.expires_at <= $5",
    )
    .bind(flow_id)
    .bind(key)
    .bind(claimant)
    .bind(expires_at)
    .bind(&now)
    .execute(db.pool())
    .await?
    .rows_affected();
    if taken > 0 {
        return Ok(true);
    }
    let holder: Option<String> =
        sqlx::query_scalar("SELECT claimant FROM dedupe_keys WHERE flow_id = $1 AND dedupe_key = $2")
            .bind(flow_id)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    Ok(holder.as_deref() == Some(claimant))
}

/// Deletes up to `batch` dedupe keys that expired by `now`; returns how many.
pub(super) async fn purge_dedupe(db: &Db, now: &str, batch: i64) -> Result<usize, StoreError> {
    let done = sqlx::query(
        "DELETE FROM dedupe_keys WHERE (flow_id, dedupe_key) IN \
         (SELECT flow_id, dedupe_key FROM dedupe_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
    )
    .bind(now)
    .bind(batch)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(done as usize)
}
