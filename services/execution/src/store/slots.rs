//! `flowSettings.concurrency` (API.md §12): whether an execution of a limited flow may start now, parking it as
//! `queued` when the flow's slots are taken, and waking the oldest parked ones when slots free up. Each decision
//! holds the flow's `flow_slots` row (PostgreSQL: `FOR UPDATE`; SQLite: its one writer), so replicas deciding at
//! once never both take the last slot. A parked execution holds no worker and no message: a finishing execution
//! wakes it (a resume message through the outbox), and, should that wake be lost to a crash, its `waiting_until`
//! comes due after [`PARK_POLL`] and the timers try again.

use flowmate_domain::time;
use flowmate_store::{outbox, Backend, Row, StoreError, Tx};

use super::{claims::resume_event, writer};
use crate::model::{Execution, Gate, Status, Write};

/// How long a parked execution waits before it checks again by itself (a missed wake costs at most this).
pub const PARK_POLL: chrono::Duration = chrono::Duration::seconds(30);

/// Takes the flow's row for this transaction.
async fn lock_flow(tx: &mut Tx, flow_id: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO flow_slots (flow_id) VALUES ($1) ON CONFLICT (flow_id) DO NOTHING")
        .bind(flow_id)
        .execute(&mut **tx)
        .await?;
    if tx.backend() == Backend::Postgres {
        sqlx::query("SELECT flow_id FROM flow_slots WHERE flow_id = $1 FOR UPDATE")
            .bind(flow_id)
            .fetch_one(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The flow's executions running (parked on a wait step included: they are in progress), and those queued to
/// start that are not parked (a manual run on its way, an execution just woken).
async fn occupancy(tx: &mut Tx, flow_id: &str) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) AS running, \
         COALESCE(SUM(CASE WHEN status = 'queued' AND waiting_until IS NULL THEN 1 ELSE 0 END), 0) AS coming \
         FROM executions WHERE flow_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(flow_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("running")?, row.try_get("coming")?))
}

/// Whether the flow has parked executions.
async fn any_parked(tx: &mut Tx, flow_id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM executions WHERE flow_id = $1 AND status = 'queued' AND waiting_until IS NOT NULL LIMIT 1",
    )
    .bind(flow_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

fn parked_until() -> String {
    time::format(time::now() + PARK_POLL)
}

/// A new execution of a flow limited to `limit` at once: recorded running when a slot is free and nobody waits
/// for one, else recorded parked (behind those waiting). [`Gate::Taken`]: its id exists, nothing was written.
pub(super) async fn admit(tx: &mut Tx, execution: &Execution, limit: u32) -> Result<Gate, StoreError> {
    lock_flow(tx, &execution.flow_id).await?;
    let (running, coming) = occupancy(tx, &execution.flow_id).await?;
    let free = i64::from(limit) - running - coming;
    let waiting = any_parked(tx, &execution.flow_id).await?;
    if free > 0 && !waiting {
        let written = writer::upsert(tx, execution, Write::Create).await?;
        return Ok(if written { Gate::Run } else { Gate::Taken });
    }
    let mut parked = execution.clone();
    parked.status = Status::Queued;
    parked.waiting_until = Some(parked_until());
    parked.owner = None;
    if !writer::upsert(tx, &parked, Write::Create).await? {
        return Ok(Gate::Taken);
    }
    if free > 0 {
        wake_in(tx, &execution.flow_id, free).await?;
    }
    Ok(Gate::Parked)
}

/// A queued execution of a limited flow about to run (a manual run, one woken): marked running if a slot is
/// free, else parked again. Returns whether it may run.
pub(super) async fn enter(tx: &mut Tx, id: &str, flow_id: &str, limit: u32) -> Result<bool, StoreError> {
    lock_flow(tx, flow_id).await?;
    let (running, _) = occupancy(tx, flow_id).await?;
    if running < i64::from(limit) {
        sqlx::query("UPDATE executions SET status = 'running' WHERE id = $1 AND status = 'queued'")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        return Ok(true);
    }
    sqlx::query(
        "UPDATE executions SET waiting_until = $2, owner = NULL, lease_until = NULL \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(parked_until())
    .execute(&mut **tx)
    .await?;
    Ok(false)
}

/// Wakes as many of the flow's parked executions, oldest first, as it has free slots.
pub(super) async fn wake(tx: &mut Tx, flow_id: &str, limit: u32) -> Result<usize, StoreError> {
    lock_flow(tx, flow_id).await?;
    let (running, coming) = occupancy(tx, flow_id).await?;
    let free = i64::from(limit) - running - coming;
    if free <= 0 {
        return Ok(0);
    }
    wake_in(tx, flow_id, free).await
}

/// Wakes up to `n` parked executions of the flow, oldest first: each gets a new generation and a resume message.
async fn wake_in(tx: &mut Tx, flow_id: &str, n: i64) -> Result<usize, StoreError> {
    let rows = sqlx::query(
        "SELECT id, generation, tenant FROM executions WHERE flow_id = $1 AND status = 'queued' \
         AND waiting_until IS NOT NULL ORDER BY started_at, id LIMIT $2",
    )
    .bind(flow_id)
    .bind(n)
    .fetch_all(&mut **tx)
    .await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let generation: i64 = r.try_get::<i64, _>("generation")? + 1;
        let event = resume_event(&id, generation, r.try_get("tenant")?);
        sqlx::query("UPDATE executions SET waiting_until = NULL, generation = $2, owner = $3 WHERE id = $1")
            .bind(&id)
            .bind(generation)
            .bind(event.id.as_str())
            .execute(&mut **tx)
            .await?;
        outbox::enqueue(tx, &event).await?;
    }
    Ok(rows.len())
}
