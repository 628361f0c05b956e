//! Webhook HMAC secrets sealed with an older key (`FLOWMATE_SECRETS_KEYS` got a new first key): re-sealed with the
//! first key when the service starts, in batches by id, in the flows and in their stored versions. Each row is
//! replaced only if it still holds what was read, so a change written meanwhile is never overwritten; the plaintext
//! does not change, so the flow's version stays and no event is published. Interrupting is safe: the next start
//! carries on. Once the log says none is left under another key, the old key can leave the ring (the secret
//! service's values are re-sealed by `flowmate secrets rotate`).

use flowmate_auth::secrets::SecretBox;
use flowmate_store::{sqlx, Db, Row, StoreError};
use serde_json::Value;

/// Rows read at a time.
const BATCH: i64 = 200;
/// Where the sealed secret sits in a flow body.
const POINTER: &str = "/flowSettings/webhooks/hmacSecret";

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    /// Secrets sealed again with the first key.
    pub resealed: u64,
    /// Secrets no key of the ring opens (left as they are).
    pub unreadable: u64,
    /// Rows changed by someone else while being re-sealed (the next start looks again).
    pub skipped: u64,
}

/// `body` with its webhook secret sealed again with the first key, if it had one under another key.
fn resealed(body: &str, keys: &SecretBox, report: &mut ResealReport) -> Option<String> {
    let mut doc: Value = serde_json::from_str(body).ok()?;
    let secret = doc.pointer_mut(POINTER)?;
    let sealed = secret.as_str()?;
    if !keys.needs_reseal(sealed) {
        return None;
    }
    match keys.reseal(sealed) {
        Ok(new) => {
            *secret = Value::String(new);
            serde_json::to_string(&doc).ok()
        }
        Err(_) => {
            report.unreadable += 1;
            None
        }
    }
}

/// One table: `key` is its primary key expression (as text), `body` its flow-body column.
async fn reseal_table(
    db: &Db,
    keys: &SecretBox,
    (table, key): (&str, &str),
    report: &mut ResealReport,
) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let sql = format!(
            "SELECT {key} AS k, body FROM {table} WHERE body LIKE '%hmacSecret%' AND {key} > $1 ORDER BY {key} LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(&after)
            .bind(BATCH)
            .fetch_all(db.pool())
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get::<String, _>("k")?;
        for row in &rows {
            let (k, body): (String, String) = (row.try_get("k")?, row.try_get("body")?);
            let Some(new) = resealed(&body, keys, report) else {
                continue;
            };
            let update = format!("UPDATE {table} SET body = $1 WHERE {key} = $2 AND body = $3");
            let done = sqlx::query(&update)
                .bind(&new)
                .bind(&k)
                .bind(&body)
                .execute(db.pool())
                .await?;
            if done.rows_affected() > 0 {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
}

/// Re-seals every webhook secret of `db` that is not sealed with the first key of `keys`.
pub async fn reseal_webhook_secrets(db: &Db, keys: &SecretBox) -> Result<ResealReport, StoreError> {
    let mut report = ResealReport::default();
    let version_key = match db.backend() {
        flowmate_store::Backend::Postgres => "flow_id || ':' || lpad(version::text, 20, '0')",
        flowmate_store::Backend::Sqlite => "flow_id || ':' || printf('%020d', version)",
    };
    reseal_table(db, keys, ("flows", "id"), &mut report).await?;
    reseal_table(db, keys, ("flow_versions", version_key), &mut report).await?;
    Ok(report)
}

/// Runs [`reseal_webhook_secrets`] once, logging what it did.
pub async fn at_start(db: Db, keys: std::sync::Arc<SecretBox>) {
    match reseal_webhook_secrets(&db, &keys).await {
        Ok(r) if r == ResealReport::default() => {}
        Ok(r) => tracing::info!(
            resealed = r.resealed,
            unreadable = r.unreadable,
            skipped = r.skipped,
            kid = keys.primary_kid(),
            "webhook secrets re-sealed with the first key"
        ),
        Err(e) => tracing::warn!(error = %e, "re-sealing webhook secrets failed; the next start tries again"),
    }
}
