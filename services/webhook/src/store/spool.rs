//! The trigger spool: `flow.execute` envelopes written to the webhook service's own database when the broker could
//! not confirm them, and published from there, oldest first, once it confirms again (deleted only after the
//! confirm). The outbox pattern of `flowmate_store::outbox`, for a table of its own: the spool is written outside
//! any other change, and its relay tells "empty" from "another replica is publishing".

use flowmate_bus::SharedBus;
use flowmate_domain::{time, Envelope};
use flowmate_store::{Backend, Db, Row, StoreError};

/// Rows published per round.
pub const BATCH: i64 = 256;

/// The advisory lock the PostgreSQL relay holds while it publishes (one relay of all replicas at a time keeps the
/// spool's order). Distinct from the outbox relay's.
const SPOOL_LOCK: i64 = 0x0077_6873_706f_6f6c;

/// What one relay round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// The spool was empty when read.
    Empty,
    /// This many rows were published (confirmed) and deleted.
    Published(usize),
    /// Another replica's relay holds the spool (PostgreSQL): nothing was read.
    Elsewhere,
}

/// Why a relay round failed; the rows stay and are published by a later round.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or deleting rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The broker did not confirm.
    #[error("publish: {0}")]
    Bus(String),
}

/// The spool table.
#[derive(Clone)]
pub struct Spool {
    db: Db,
}

impl Spool {
    /// The spool in `db`.
    pub fn new(db: Db) -> Spool {
        Spool { db }
    }

    /// Writes `event` and commits: from then on it is durable and will be published.
    pub async fn push(&self, event: &Envelope) -> Result<(), StoreError> {
        let payload = serde_json::to_string(event)?;
        let mut tx = self.db.begin().await?;
        sqlx::query("INSERT INTO trigger_spool (id, payload, created_at) VALUES ($1, $2, $3)")
            .bind(&event.id)
            .bind(payload)
            .bind(time::now_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// How many rows wait.
    pub async fn depth(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM trigger_spool")
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Publishes the oldest [`BATCH`] rows with confirms, then deletes exactly those.
    ///
    /// PostgreSQL: under an advisory lock held by one replica's relay at a time. SQLite: one process owns the
    /// file; rows are read outside a transaction so the single writer is not held while publishing.
    pub async fn relay(&self, bus: &SharedBus) -> Result<Round, RelayError> {
        let select = "SELECT seq, payload FROM trigger_spool ORDER BY seq LIMIT $1";
        match self.db.backend() {
            Backend::Postgres => {
                let mut tx = self.db.pool().begin().await.map_err(StoreError::from)?;
                let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(SPOOL_LOCK)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                if !leader {
                    return Ok(Round::Elsewhere);
                }
                let rows = sqlx::query(select)
                    .bind(BATCH)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                let seqs = publish(&rows, bus).await?;
                delete(&mut *tx, Backend::Postgres, &seqs).await?;
                tx.commit().await.map_err(StoreError::from)?;
                Ok(round(seqs.len()))
            }
            Backend::Sqlite => {
                let rows = sqlx::query(select)
                    .bind(BATCH)
                    .fetch_all(self.db.pool())
                    .await
                    .map_err(StoreError::from)?;
                let seqs = publish(&rows, bus).await?;
                let mut tx = self.db.begin().await?;
                delete(&mut *tx, Backend::Sqlite, &seqs).await?;
                tx.commit().await?;
                Ok(round(seqs.len()))
            }
        }
    }
}

fn round(n: usize) -> Round {
    if n == 0 {
        Round::Empty
    } else {
        Round::Published(n)
    }
}

/// Publishes the rows' envelopes in order, all confirmed; returns the rows' sequence numbers (an undecodable row
/// is dropped with an error: it could never be published and would block every later one).
async fn publish(rows: &[sqlx::any::AnyRow], bus: &SharedBus) -> Result<Vec<i64>, RelayError> {
    let mut seqs = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row.try_get("seq").map_err(StoreError::from)?;
        seqs.push(seq);
        let payload: String = row.try_get("payload").map_err(StoreError::from)?;
        match serde_json::from_str::<Envelope>(&payload) {
            Ok(event) => events.push(event),
            Err(e) => tracing::error!(seq, error = %e, "dropping an undecodable spooled trigger"),
        }
    }
    if !events.is_empty() {
        bus.publish_batch(&events)
            .await
            .map_err(|e| RelayError::Bus(e.to_string()))?;
    }
    Ok(seqs)
}

/// Deletes exactly the published rows (never a range: a row in between may have committed later).
async fn delete<'e, E>(exec: E, backend: Backend, seqs: &[i64]) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if seqs.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM trigger_spool WHERE seq IN ({})",
        backend.list(1, seqs.len())
    );
    let mut q = sqlx::query(&sql);
    for seq in seqs {
        q = q.bind(*seq);
    }
    q.execute(exec).await?;
    Ok(())
}
