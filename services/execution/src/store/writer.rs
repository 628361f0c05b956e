//! The group-commit writer: checkpoints of all running executions are queued here and written many to a
//! transaction.

use std::{sync::Arc, time::Duration};

use flowmate_domain::Envelope;
use flowmate_store::{outbox, placeholders, Db, StoreError, Tx};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{json_text, opt_json};
use crate::model::{Execution, Status, Step};

/// How many checkpoints one transaction carries at most.
const GROUP: usize = 256;

/// Everything one checkpoint writes: the execution row, its new steps, and events to publish after commit.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Only create the execution; write nothing if it exists (another message got there first).
    pub create_only: bool,
    /// The execution as it is now.
    pub execution: Execution,
    /// Steps recorded since the previous checkpoint.
    pub steps: Vec<Step>,
    /// Published through the outbox once committed.
    pub events: Vec<Envelope>,
}

pub(super) type Reply = oneshot::Sender<Result<bool, String>>;

/// Inserts or updates the execution row. An update only applies while the execution is not cancelled and the
/// writer holds the current generation; `create_only` never updates. Returns whether it wrote.
/// How long a running execution may go without a checkpoint before the timers take it back: longer than any
/// step may take (an `http` step is capped at 5 minutes).
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// The lease a write gives: running and queued executions hold one, parked and finished ones none.
fn lease(e: &Execution) -> Option<String> {
    (matches!(e.status, Status::Running | Status::Queued) && e.waiting_until.is_none())
        .then(|| flowmate_domain::time::format(flowmate_domain::time::now() + LEASE))
}

pub(super) async fn upsert(tx: &mut Tx, e: &Execution, create_only: bool) -> Result<bool, StoreError> {
    let on_conflict = if create_only {
        "DO NOTHING"
    } else {
        "DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, \
         duration_ms = excluded.duration_ms, counters = excluded.counters, error = excluded.error, \
         response = excluded.response, state = excluded.state, waiting_until = excluded.waiting_until, \
         lease_until = excluded.lease_until, \
         owner = excluded.owner WHERE executions.status <> 'cancelled' AND executions.generation = excluded.generation \
         AND executions.flow_id = excluded.flow_id"
    };
    let sql = format!(
        "INSERT INTO executions (id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, \
         finished_at, duration_ms, counters, error, response, message, state, waiting_until, owner, generation, \
         lease_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (id) {on_conflict}"
    );
    let written = sqlx::query(&sql)
        .bind(&e.id)
        .bind(&e.flow_id)
        .bind(e.flow_version)
        .bind(&e.tenant)
        .bind(&e.user)
        .bind(e.status.as_str())
        .bind(json_text(&e.trigger))
        .bind(&e.started_at)
        .bind(&e.finished_at)
        .bind(e.duration_ms)
        .bind(json_text(&e.counters))
        .bind(opt_json(&e.error))
        .bind(opt_json(&e.response))
        .bind(json_text(&e.message))
        .bind(opt_json(&e.state))
        .bind(&e.waiting_until)
        .bind(&e.owner)
        .bind(e.generation)
        .bind(lease(e))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(written > 0)
}

const STEP_COLUMNS: usize = 12;

async fn insert_steps(tx: &mut Tx, execution_id: &str, steps: &[Step]) -> Result<(), StoreError> {
    for chunk in steps.chunks(400) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * STEP_COLUMNS + 1, STEP_COLUMNS)))
            .collect();
        let sql = format!(
            "INSERT INTO execution_steps (execution_id, seq, step_id, component_id, function, status, attempt, \
             started_at, finished_at, input, output, error) VALUES {} ON CONFLICT (execution_id, seq) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = q
                .bind(execution_id)
                .bind(i64::from(s.seq))
                .bind(&s.step_id)
                .bind(&s.component_id)
                .bind(&s.function)
                .bind(&s.status)
                .bind(i64::from(s.attempt))
                .bind(&s.started_at)
                .bind(&s.finished_at)
                .bind(opt_json(&s.input))
                .bind(opt_json(&s.output))
                .bind(opt_json(&s.error));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn apply(tx: &mut Tx, cp: &Checkpoint) -> Result<bool, StoreError> {
    if !upsert(tx, &cp.execution, cp.create_only).await? {
        return Ok(false);
    }
    insert_steps(tx, &cp.execution.id, &cp.steps).await?;
    outbox::enqueue_all(tx, &cp.events).await?;
    Ok(true)
}

async fn write_group(db: &Db, batch: &[(Checkpoint, Reply)]) -> Result<Vec<bool>, StoreError> {
    let mut tx = db.begin().await?;
    let mut out = Vec::with_capacity(batch.len());
    for (cp, _) in batch {
        out.push(apply(&mut tx, cp).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// Takes checkpoints off the queue in groups and commits each group in one transaction. A group that fails is
/// retried one checkpoint per transaction, so one bad checkpoint cannot fail its neighbours.
pub(super) async fn write_loop(db: Db, rx: Arc<Mutex<mpsc::Receiver<(Checkpoint, Reply)>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            while batch.len() < GROUP {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        metrics::histogram!("flowmate_execution_commit_group_size").record(batch.len() as f64);
        match write_group(&db, &batch).await {
            Ok(results) => {
                for ((_, reply), ok) in batch.into_iter().zip(results) {
                    let _ = reply.send(Ok(ok));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "group commit failed; writing one by one");
                for (cp, reply) in batch {
                    let one = async {
                        let mut tx = db.begin().await?;
                        let ok = apply(&mut tx, &cp).await?;
                        tx.commit().await?;
                        Ok::<_, StoreError>(ok)
                    }
                    .await;
                    let _ = reply.send(one.map_err(|e| e.to_string()));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
