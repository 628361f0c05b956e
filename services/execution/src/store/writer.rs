//! The group-commit writer: checkpoints of all running executions are queued here and written many to a
//! transaction.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use flowmate_domain::Envelope;
use flowmate_store::{outbox, Backend, Db, Row, StoreError, Tx};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::rows::{json_text, opt_json};
use crate::model::{Checkpoint, Execution, Status, Step, Write};

/// How many checkpoints one transaction carries at most.
const GROUP: usize = 256;

/// Where a checkpoint's result goes: whether it was written.
pub(super) type Reply = oneshot::Sender<Result<bool, StoreError>>;

/// How long a running execution may go without a checkpoint before the timers take it back: longer than any
/// step may take (an `http` step is capped at 5 minutes).
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// The lease a write gives: running and queued executions hold one, parked and finished ones none.
fn lease(e: &Execution) -> Option<String> {
    (matches!(e.status, Status::Running | Status::Queued) && e.waiting_until.is_none())
        .then(|| flowmate_domain::time::format(flowmate_domain::time::now() + LEASE))
}

/// The execution row's columns, in the order [`bind_execution`] binds them.
const EXECUTION_COLUMNS: usize = 22;

fn upsert_sql(backend: Backend, rows: usize, write: Write) -> String {
    const SET: &str = "DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, \
         duration_ms = excluded.duration_ms, counters = excluded.counters, error = excluded.error, \
         response = excluded.response, state = excluded.state, waiting_until = excluded.waiting_until, \
         lease_until = excluded.lease_until, owner = excluded.owner \
         WHERE executions.generation = excluded.generation AND executions.flow_id = excluded.flow_id";
    let on_conflict = match write {
        Write::Create => "DO NOTHING".to_owned(),
        Write::Start => {
            format!("{SET} AND executions.status = 'queued' AND executions.owner = excluded.owner")
        }
        Write::Update => format!(
            "{SET} AND executions.status IN ('queued', 'running') \
             AND (excluded.owner IS NULL OR executions.owner = excluded.owner)"
        ),
    };
    format!(
        "INSERT INTO executions (id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, \
         finished_at, duration_ms, counters, error, response, message, state, waiting_until, owner, generation, \
         lease_until, parent_id, parent_node, depth) VALUES {} ON CONFLICT (id) {on_conflict} RETURNING id",
        backend.rows(rows, EXECUTION_COLUMNS)
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_execution<'q>(q: AnyQuery<'q>, e: &'q Execution) -> AnyQuery<'q> {
    q.bind(e.id.as_str())
        .bind(e.flow_id.as_str())
        .bind(e.flow_version)
        .bind(e.tenant.as_str())
        .bind(e.user.as_str())
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
        .bind(e.parent.as_ref().map(|p| p.execution_id.as_str()))
        .bind(e.parent.as_ref().and_then(|p| p.node_id.as_deref()))
        .bind(i64::from(e.depth()))
}

/// Inserts or updates the execution row as `write` allows ([`Write`]). Any update is to an execution of the same
/// flow whose current generation the writer holds; [`Write::Update`] also needs it queued or running and owned by
/// the writer's message (unless the write parks it: then it has no owner until it is due). Returns whether it
/// wrote.
pub(super) async fn upsert(tx: &mut Tx, e: &Execution, write: Write) -> Result<bool, StoreError> {
    Ok(!upsert_many(tx, &[e], write).await?.is_empty())
}

/// [`upsert`] for many executions, a few statements in all; no execution may appear twice. Returns the ids
/// written.
async fn upsert_many(
    tx: &mut Tx,
    executions: &[&Execution],
    write: Write,
) -> Result<HashSet<String>, StoreError> {
    let mut written = HashSet::with_capacity(executions.len());
    let mut rest = executions;
    for size in chunk_sizes(executions.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = upsert_sql(tx.backend(), size, write);
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = bind_execution(q, e);
        }
        for row in q.fetch_all(&mut **tx).await? {
            written.insert(row.try_get::<String, _>(0)?);
        }
    }
    Ok(written)
}

/// Rows one statement carries at most (22 columns × 64 rows = 1,408 parameters; under webhook load a group holds
/// ~45 checkpoints on average). Wide statements are cheap to bind since SQLite's parameters are anonymous.
const MAX_ROWS: usize = 64;

fn chunk_sizes(n: usize) -> Vec<usize> {
    flowmate_store::chunk_sizes(n, MAX_ROWS)
}

/// The step row's columns.
const STEP_COLUMNS: usize = 13;

/// Step rows one statement carries at most (832 parameters): an execution may record thousands of steps.
const STEP_ROWS: usize = 64;

fn steps_sql(backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO execution_steps (execution_id, seq, step_id, component_id, function, status, attempt, \
         started_at, finished_at, input, output, error, logs) VALUES {} ON CONFLICT (execution_id, seq) DO NOTHING",
        backend.rows(rows, STEP_COLUMNS)
    )
}

/// Inserts steps, each with the id of its execution.
async fn insert_steps(tx: &mut Tx, steps: &[(&str, &Step)]) -> Result<(), StoreError> {
    let mut rest = steps;
    for size in flowmate_store::chunk_sizes(steps.len(), STEP_ROWS) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = steps_sql(tx.backend(), size);
        let mut q = sqlx::query(&sql);
        for (execution_id, s) in chunk {
            q = q
                .bind(*execution_id)
                .bind(i64::from(s.seq))
                .bind(&s.step_id)
                .bind(&s.component_id)
                .bind(&s.function)
                .bind(s.status.as_str())
                .bind(i64::from(s.attempt))
                .bind(&s.started_at)
                .bind(&s.finished_at)
                .bind(opt_json(&s.input))
                .bind(opt_json(&s.output))
                .bind(opt_json(&s.error))
                .bind(opt_json(&s.logs));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Commits a group in one transaction with a few multi-row statements instead of three per checkpoint: on a busy
/// machine every statement waits for the database driver's thread, so their number bounds the throughput.
async fn write_group(db: &Db, batch: &[(Checkpoint, Reply)]) -> Result<Vec<bool>, StoreError> {
    // The n-th checkpoint of an execution in this group goes in round n: one statement never names an execution
    // twice, and a later checkpoint lands after an earlier one.
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, (cp, _)) in batch.iter().enumerate() {
        let round = seen.entry(cp.execution.id.as_str()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(i);
        *round += 1;
    }
    let mut tx = db.begin().await?;
    let mut written = vec![false; batch.len()];
    for round in &rounds {
        for write in [Write::Create, Write::Start, Write::Update] {
            let members: Vec<usize> = round
                .iter()
                .copied()
                .filter(|&i| batch[i].0.write == write)
                .collect();
            if members.is_empty() {
                continue;
            }
            let executions: Vec<&Execution> = members.iter().map(|&i| &batch[i].0.execution).collect();
            let ids = upsert_many(&mut tx, &executions, write).await?;
            for &i in &members {
                written[i] = ids.contains(batch[i].0.execution.id.as_str());
            }
        }
    }
    let kept = || {
        batch
            .iter()
            .zip(&written)
            .filter(|(_, w)| **w)
            .map(|((cp, _), _)| cp)
    };
    let steps: Vec<(&str, &Step)> = kept()
        .flat_map(|cp| cp.steps.iter().map(|s| (cp.execution.id.as_str(), s)))
        .collect();
    insert_steps(&mut tx, &steps).await?;
    for cp in kept().filter(|cp| !cp.resumed.is_empty()) {
        super::resumes::remove(&mut tx, cp.execution.id.as_str(), &cp.resumed).await?;
    }
    let events: Vec<Envelope> = kept().flat_map(|cp| cp.events.iter().cloned()).collect();
    outbox::enqueue_all(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(written)
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
                for item in batch {
                    let one = write_group(&db, std::slice::from_ref(&item)).await;
                    let _ = item.1.send(one.map(|written| written[0]));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
