//! The transactional outbox: events are written in the same transaction as the change they announce and a relay
//! publishes them afterwards, so a crash between the two can delay an event but never lose it. Delivery is at
//! least once; consumers are idempotent on the event id.

use std::time::Duration;

use flowmate_bus::SharedBus;
use flowmate_domain::{time, Envelope};
use sqlx::Row;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Backend, Db, StoreError, Tx};

const BATCH: i64 = 256;

/// The advisory lock key the PostgreSQL relay holds while it publishes (any constant; each service has its own
/// database).
const RELAY_LOCK: i64 = 0x0066_6c6f_776d_6174;

/// Writes `event` to the outbox as part of `tx`; it is published once `tx` commits.
pub async fn enqueue(tx: &mut Tx, event: &Envelope) -> Result<(), StoreError> {
    enqueue_all(tx, std::slice::from_ref(event)).await
}

/// Starts the relay that publishes committed outbox rows to `bus`, oldest first, until `shutdown`.
///
/// On PostgreSQL several replicas may run a relay; one at a time publishes.
pub fn start_relay(db: Db, bus: SharedBus, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match relay_batch(&db, &bus).await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = db.outbox_notify().notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Publishes one batch of pending rows; returns how many were published.
///
/// PostgreSQL: the relay of one replica at a time publishes (an advisory lock), so events keep their commit order.
/// SQLite: one process owns the file, so rows are read outside a transaction and the single writer is not held
/// while publishing.
pub async fn relay_batch(db: &Db, bus: &SharedBus) -> Result<usize, RelayError> {
    match db.backend() {
        Backend::Postgres => {
            let mut tx = db.writer().begin().await.map_err(StoreError::from)?;
            // One relay at a time per database keeps events in commit order across replicas; the others find
            // the lock taken and try again on their next round.
            let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            if !leader {
                return Ok(0);
            }
            let sql = "SELECT seq, payload FROM outbox ORDER BY seq LIMIT $1";
            let rows = sqlx::query(sql)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let seqs = publish_rows(&rows, bus).await?;
            delete(&mut *tx, Backend::Postgres, &seqs).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(seqs.len())
        }
        Backend::Sqlite => {
            let sql = "SELECT seq, payload FROM outbox ORDER BY seq LIMIT $1";
            let rows = sqlx::query(sql)
                .bind(BATCH)
                .fetch_all(db.pool())
                .await
                .map_err(StoreError::from)?;
            let seqs = publish_rows(&rows, bus).await?;
            delete(db.writer(), Backend::Sqlite, &seqs).await?;
            Ok(seqs.len())
        }
    }
}

async fn publish_rows(rows: &[sqlx::any::AnyRow], bus: &SharedBus) -> Result<Vec<i64>, RelayError> {
    let mut seqs = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let seq = row.try_get::<i64, _>("seq").map_err(StoreError::from)?;
        seqs.push(seq);
        let payload: String = row.try_get("payload").map_err(StoreError::from)?;
        match serde_json::from_str::<Envelope>(&payload) {
            Ok(event) => events.push(event),
            // A row that cannot be decoded can never be published; keeping it would block every later event.
            Err(e) => tracing::error!(seq, error = %e, %payload, "dropping undecodable outbox row"),
        }
    }
    if !events.is_empty() {
        bus.publish_batch(&events)
            .await
            .map_err(|e| RelayError::Bus(e.to_string()))?;
    }
    Ok(seqs)
}

/// `DELETE … WHERE seq IN (…)` for exactly the published rows (never a range: on PostgreSQL a row in between
/// may belong to another replica's round).
fn delete_sql(backend: Backend, n: usize) -> String {
    format!("DELETE FROM outbox WHERE seq IN ({})", backend.list(1, n))
}

async fn delete<'e, E>(exec: E, backend: Backend, seqs: &[i64]) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if seqs.is_empty() {
        return Ok(());
    }
    let sql = delete_sql(backend, seqs.len());
    let mut q = sqlx::query(&sql);
    for s in seqs {
        q = q.bind(*s);
    }
    q.execute(exec).await?;
    Ok(())
}

/// Why a relay round failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or deleting outbox rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus did not confirm the publish; the rows stay and are retried.
    #[error("publish: {0}")]
    Bus(String),
}

/// Writes several events to the outbox as part of `tx`, a few multi-row statements in all. Events without a trace
/// context get the current one.
pub async fn enqueue_all(tx: &mut Tx, events: &[Envelope]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let created_at = time::now_string();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let mut event = event.clone();
        if event.traceparent.is_none() {
            event.traceparent = flowmate_telemetry::propagation::current_traceparent();
        }
        rows.push((event.id.clone(), serde_json::to_string(&event)?));
    }
    let mut rest = rows.as_slice();
    for size in crate::chunk_sizes(rows.len(), 64) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = format!(
            "INSERT INTO outbox (id, payload, created_at) VALUES {}",
            tx.backend().rows(size, 3)
        );
        let mut q = sqlx::query(&sql);
        for (id, payload) in chunk {
            q = q.bind(id).bind(payload).bind(&created_at);
        }
        q.execute(&mut **tx).await?;
    }
    tx.mark_outbox();
    Ok(())
}
