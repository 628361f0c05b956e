//! Claiming due work — parked executions, cron ticks — and deleting executions past the retention. Each claim and
//! the messages it produces commit together; on PostgreSQL rows another replica holds are skipped.

use flowmate_domain::{time, Envelope};
use flowmate_store::{outbox, placeholders, Backend, Db, Row, StoreError};

use crate::model::TickFactory;

/// `FOR UPDATE SKIP LOCKED` where the database has it: rows another replica holds are skipped.
fn skip_locked(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}
/// Claims executions whose lease ran out while running (their holder is gone and no redelivery came): each gets
/// a new generation, a fresh lease and a resume message, in one transaction.
pub(super) async fn claim_stale(db: &Db, now: &str, limit: i64) -> Result<usize, StoreError> {
    let lock = skip_locked(db);
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&format!(
        "SELECT id, generation, tenant FROM executions WHERE lease_until IS NOT NULL AND lease_until <= $1 \
         AND waiting_until IS NULL AND status IN ('queued', 'running') ORDER BY lease_until LIMIT $2 {lock}"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let lease = time::format(time::now() + super::writer::LEASE);
    for r in &rows {
        let id: String = r.try_get("id")?;
        let generation: i64 = r.try_get::<i64, _>("generation")? + 1;
        let tenant: String = r.try_get("tenant")?;
        let event = resume_event(&id, generation, tenant);
        sqlx::query("UPDATE executions SET generation = $2, owner = $3, lease_until = $4 WHERE id = $1")
            .bind(&id)
            .bind(generation)
            .bind(event.id.as_str())
            .bind(&lease)
            .execute(&mut *tx)
            .await?;
        outbox::enqueue(&mut tx, &event).await?;
        tracing::warn!(execution_id = %id, "an execution's holder went away; continuing it from its checkpoint");
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Claims parked executions due by `now`, or with a resume recorded (a resume that came while its execution was
/// still running, just before it parked): each gets a new generation and a resume message, in one transaction
/// (PostgreSQL: rows locked by another replica are skipped).
pub(super) async fn claim_due(db: &Db, now: &str, limit: i64) -> Result<usize, StoreError> {
    let lock = skip_locked(db);
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&format!(
        "SELECT id, generation, tenant FROM executions WHERE waiting_until IS NOT NULL AND (waiting_until <= $1 \
         OR id IN (SELECT execution_id FROM execution_resumes)) ORDER BY waiting_until LIMIT $2 {lock}"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let generation: i64 = r.try_get::<i64, _>("generation")? + 1;
        let tenant: String = r.try_get("tenant")?;
        let event = resume_event(&id, generation, tenant);
        sqlx::query("UPDATE executions SET waiting_until = NULL, generation = $2, owner = $3 WHERE id = $1")
            .bind(&id)
            .bind(generation)
            .bind(event.id.as_str())
            .execute(&mut *tx)
            .await?;
        outbox::enqueue(&mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Takes over an execution whose owning message was redelivered (its previous holder is gone): bumps the
/// generation so a late checkpoint of the previous holder writes nothing. Returns the new generation.
pub(super) async fn take_over(
    db: &Db,
    id: &str,
    owner: &str,
    generation: i64,
) -> Result<Option<i64>, StoreError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE executions SET generation = generation + 1 WHERE id = $1 AND owner = $2 AND generation = $3 \
         AND status IN ('queued', 'running') AND waiting_until IS NULL",
    )
    .bind(id)
    .bind(owner)
    .bind(generation)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((done > 0).then_some(generation + 1))
}

/// The earliest time a parked execution is due, if any.
pub(super) async fn next_wake(db: &Db) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT MIN(waiting_until) FROM executions WHERE waiting_until IS NOT NULL")
            .fetch_one(db.pool())
            .await?,
    )
}

/// Claims cron flows due by `now`: their next due time moves past `now` (missed ticks fire once) and each gets
/// one `flow.execute`, in one transaction (PostgreSQL: rows locked by another replica are skipped).
pub(super) async fn claim_schedules(
    db: &Db,
    now: chrono::DateTime<chrono::Utc>,
    limit: i64,
    trigger: &TickFactory,
) -> Result<usize, StoreError> {
    let lock = skip_locked(db);
    let now_text = time::format(now);
    let mut tx = db.begin().await?;
    let lock = if lock.is_empty() {
        ""
    } else {
        "FOR UPDATE OF s SKIP LOCKED"
    };
    let rows = sqlx::query(&format!(
        "SELECT s.flow_id, s.cron, s.next_due, COALESCE(r.tenant, '') AS tenant FROM schedules s \
         LEFT JOIN running_flows r ON r.id = s.flow_id WHERE s.next_due <= $1 ORDER BY s.next_due LIMIT $2 {lock}"
    ))
    .bind(&now_text)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let flow_id: String = r.try_get("flow_id")?;
        let cron: String = r.try_get("cron")?;
        let due: String = r.try_get("next_due")?;
        let tenant: String = r.try_get("tenant")?;
        let next = flowmate_domain::cron::parse(&cron).and_then(|s| s.next_after(now));
        match next {
            Some(next) => {
                let next = time::format(next);
                sqlx::query("UPDATE schedules SET next_due = $2 WHERE flow_id = $1")
                    .bind(&flow_id)
                    .bind(&next)
                    .execute(&mut *tx)
                    .await?;
                if let Some(event) = trigger(&flow_id, &tenant, &due, &next) {
                    outbox::enqueue(&mut tx, &event).await?;
                }
            }
            None => {
                sqlx::query("DELETE FROM schedules WHERE flow_id = $1")
                    .bind(&flow_id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(event) = trigger(&flow_id, &tenant, &due, "") {
                    outbox::enqueue(&mut tx, &event).await?;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// The earliest due schedule, if any.
pub(super) async fn next_schedule(db: &Db) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(next_due) FROM schedules")
        .fetch_one(db.pool())
        .await?)
}

/// Deletes up to `batch` executions (with their steps) that finished before `before`; returns how many.
pub(super) async fn purge(db: &Db, before: &str, batch: i64) -> Result<usize, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT $2",
    )
    .bind(before)
    .bind(batch)
    .fetch_all(db.pool())
    .await?;
    delete(db, &ids).await
}

/// Deletes executions by id, with their steps and resumes. Returns how many.
pub(super) async fn delete(db: &Db, ids: &[String]) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = placeholders(1, ids.len());
    let mut tx = db.begin().await?;
    for table in [
        "DELETE FROM execution_steps WHERE execution_id IN",
        "DELETE FROM execution_resumes WHERE execution_id IN",
        "DELETE FROM executions WHERE id IN",
    ] {
        let sql = format!("{table} ({list})");
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// The message that continues execution `id` as `generation`; whoever holds it owns the execution.
pub(super) fn resume_event(id: &str, generation: i64, tenant: String) -> Envelope {
    Envelope::new(
        flowmate_domain::event::types::EXECUTION_RESUME,
        crate::SOURCE,
        flowmate_domain::event::payload::Payload::to_data(
            &flowmate_domain::event::payload::ExecutionResume {
                execution_id: id.to_owned(),
                generation,
            },
        ),
    )
    .with_tenant(tenant)
}
