//! Tenant quotas (API.md §12): admitting an execution against its tenant's limits in the transaction that
//! records it, the tenant's usage, and deleting the oldest finished executions past `maxStoredExecutions`.

use flowmate_domain::quota::{Quota, QuotaState, Usage};
use flowmate_store::{Db, Row, StoreError, Tx};

use crate::model::Admission;

/// The current minute since the epoch and the fraction of it gone.
fn minute_now() -> (i64, f64) {
    let ms = flowmate_domain::time::now().timestamp_millis();
    (ms.div_euclid(60_000), ms.rem_euclid(60_000) as f64 / 60_000.0)
}

fn limit(row: &flowmate_store::AnyRow, column: &str) -> Result<Option<u32>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
}

fn quota_of(row: &flowmate_store::AnyRow) -> Result<Quota, StoreError> {
    Ok(Quota {
        executions_per_minute: limit(row, "executions_per_minute")?,
        max_queued: limit(row, "max_queued")?,
        max_stored_executions: limit(row, "max_stored")?,
    })
}

/// The sliding-minute count: this minute's plus the share of the previous minute still inside the window.
fn in_window(window_minute: i64, count: i64, previous: i64, now: (i64, f64)) -> (i64, i64, f64) {
    let (minute, gone) = now;
    let (count, previous) = match minute - window_minute {
        0 => (count, previous),
        1 => (0, count),
        _ => (0, 0),
    };
    (count, previous, previous as f64 * (1.0 - gone) + count as f64)
}

/// Checks `tenant`'s quota for one more execution and counts it: [`Admission::Unlimited`] without a quota,
/// [`Admission::Limited`] (nothing counted) past a limit. Holds the tenant's row until the transaction ends.
pub(super) async fn admit(tx: &mut Tx, tenant: &str) -> Result<Admission, StoreError> {
    // A write first: it takes the row on PostgreSQL and the database's one writer on SQLite.
    let held = sqlx::query("UPDATE tenant_quotas SET tenant = tenant WHERE tenant = $1")
        .bind(tenant)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if held == 0 {
        return Ok(Admission::Unlimited);
    }
    let row = sqlx::query("SELECT * FROM tenant_quotas WHERE tenant = $1")
        .bind(tenant)
        .fetch_one(&mut **tx)
        .await?;
    let quota = quota_of(&row)?;
    if let Some(max) = quota.max_queued {
        let queued = count(
            tx,
            "SELECT COUNT(*) FROM executions WHERE tenant = $1 AND status = 'queued'",
            tenant,
        )
        .await?;
        if queued >= i64::from(max) {
            return Ok(Admission::Limited {
                retry_after: 1,
                reason: format!("Tenant quota: {max} executions queued at most. Try again later."),
            });
        }
    }
    let now = minute_now();
    let (count, previous, estimate) = in_window(
        row.try_get("window_minute")?,
        row.try_get("window_count")?,
        row.try_get("previous_count")?,
        now,
    );
    if let Some(max) = quota.executions_per_minute {
        if estimate + 1.0 > f64::from(max) {
            // The previous minute's share shrinks as the window slides; this minute's leaves it in a minute.
            let wait = if previous > 0 {
                60.0 * (estimate + 1.0 - f64::from(max)) / previous as f64
            } else {
                60.0 * (1.0 - now.1)
            };
            return Ok(Admission::Limited {
                retry_after: wait.ceil().clamp(1.0, 60.0) as u64,
                reason: format!("Tenant quota: {max} executions per minute at most. Try again later."),
            });
        }
    }
    sqlx::query(
        "UPDATE tenant_quotas SET window_minute = $2, window_count = $3, previous_count = $4 WHERE tenant = $1",
    )
    .bind(tenant)
    .bind(now.0)
    .bind(count + 1)
    .bind(previous)
    .execute(&mut **tx)
    .await?;
    Ok(Admission::Admitted)
}

async fn count(tx: &mut Tx, sql: &str, tenant: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(sql).bind(tenant).fetch_one(&mut **tx).await?)
}

/// Sets (or, when unlimited, removes) `tenant`'s quota; its rate window carries on.
pub(super) async fn set(db: &Db, tenant: &str, quota: &Quota) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    if quota.is_unlimited() {
        sqlx::query("DELETE FROM tenant_quotas WHERE tenant = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO tenant_quotas (tenant, executions_per_minute, max_queued, max_stored) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO UPDATE SET \
             executions_per_minute = excluded.executions_per_minute, max_queued = excluded.max_queued, \
             max_stored = excluded.max_stored",
        )
        .bind(tenant)
        .bind(quota.executions_per_minute.map(i64::from))
        .bind(quota.max_queued.map(i64::from))
        .bind(quota.max_stored_executions.map(i64::from))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// `tenant`'s quota (all `None` without one) and usage.
pub(super) async fn state(db: &Db, tenant: &str) -> Result<QuotaState, StoreError> {
    let mut tx = db.begin().await?;
    let row = sqlx::query("SELECT * FROM tenant_quotas WHERE tenant = $1")
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    let (quota, last_minute) = match &row {
        Some(r) => {
            let (_, _, estimate) = in_window(
                r.try_get("window_minute")?,
                r.try_get("window_count")?,
                r.try_get("previous_count")?,
                minute_now(),
            );
            (quota_of(r)?, estimate.round() as u64)
        }
        None => (Quota::default(), 0),
    };
    let by_status = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM executions WHERE tenant = $1 AND status IN ('queued', 'running') \
         GROUP BY status",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    let mut usage = Usage {
        executions_last_minute: last_minute,
        stored_executions: count(
            &mut tx,
            "SELECT COUNT(*) FROM executions WHERE tenant = $1",
            tenant,
        )
        .await? as u64,
        ..Usage::default()
    };
    for r in &by_status {
        let n = r.try_get::<i64, _>("n")? as u64;
        match r.try_get::<String, _>("status")?.as_str() {
            "queued" => usage.queued = n,
            _ => usage.running = n,
        }
    }
    tx.commit().await?;
    Ok(QuotaState { quota, usage })
}

/// Tenants with a `maxStoredExecutions`, and the ids of up to `batch` of their oldest finished executions past it.
pub(super) async fn over_stored(db: &Db, batch: i64) -> Result<Vec<String>, StoreError> {
    let limited = sqlx::query("SELECT tenant, max_stored FROM tenant_quotas WHERE max_stored IS NOT NULL")
        .fetch_all(db.pool())
        .await?;
    let mut ids = Vec::new();
    for r in &limited {
        let tenant: String = r.try_get("tenant")?;
        let max: i64 = r.try_get("max_stored")?;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions WHERE tenant = $1")
            .bind(&tenant)
            .fetch_one(db.pool())
            .await?;
        let excess = (stored - max).min(batch - ids.len() as i64);
        if excess <= 0 {
            continue;
        }
        let oldest: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM executions WHERE tenant = $1 AND finished_at IS NOT NULL ORDER BY started_at, id LIMIT $2",
        )
        .bind(&tenant)
        .bind(excess)
        .fetch_all(db.pool())
        .await?;
        ids.extend(oldest);
    }
    Ok(ids)
}
