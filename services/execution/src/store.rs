//! The execution service's database: the flows it runs, schedules, executions and steps. Checkpoints of many
//! concurrent executions are written by a group-commit writer: one transaction for a batch, so throughput grows
//! with load instead of paying one commit per step.

use std::{sync::Arc, time::Duration};

use flowmate_domain::{execution::TriggerInfo, time, Envelope};
use flowmate_store::{outbox, placeholders, Backend, Db, Row, StoreError, Tx};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::model::{Counters, Execution, GroupBy, ListQuery, RunState, Status, Step, StepError};

/// How many checkpoints one transaction carries at most.
const GROUP: usize = 256;

/// A flow this service runs, as stored.
#[derive(Debug, Clone)]
pub struct RunningFlow {
    /// The flow document (JSON).
    pub document: Value,
    /// Who started it.
    pub started_by: String,
}

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

type Reply = oneshot::Sender<Result<bool, String>>;

/// The execution store.
#[derive(Clone)]
pub struct Store {
    db: Db,
    writes: mpsc::Sender<(Checkpoint, Reply)>,
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn opt_json<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(json_text)
}

fn parse_opt<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

impl Store {
    /// A store over `db`, with its group-commit writers (one on SQLite, several on PostgreSQL).
    pub fn new(db: Db) -> Store {
        let (tx, rx) = mpsc::channel::<(Checkpoint, Reply)>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            tokio::spawn(write_loop(db.clone(), rx.clone()));
        }
        Store { db, writes: tx }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes a checkpoint in the next group commit. `Ok(false)`: nothing was written because the execution was
    /// cancelled meanwhile, another holder took it over (its generation moved on), or — for `create_only` — it
    /// exists already.
    pub async fn checkpoint(&self, cp: Checkpoint) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send((cp, reply))
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the writer has stopped".to_owned())?
    }

    // ----- running flows -----

    /// The flow if this service runs it.
    pub async fn running_flow(&self, id: &str) -> Result<Option<RunningFlow>, StoreError> {
        let row = sqlx::query("SELECT document, started_by FROM running_flows WHERE id = $1 AND active = 1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            None => None,
            Some(r) => Some(RunningFlow {
                document: serde_json::from_str(&r.try_get::<String, _>("document")?)?,
                started_by: r.try_get("started_by")?,
            }),
        })
    }

    /// When the flow's state last changed and whether it runs (cheap revalidation of cached plans).
    pub async fn flow_marker(&self, id: &str) -> Result<Option<(String, bool)>, StoreError> {
        let row = sqlx::query("SELECT changed_at, active FROM running_flows WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| Ok((r.try_get("changed_at")?, r.try_get::<i64, _>("active")? == 1)))
            .transpose()
    }

    /// When the flow's state last changed here (to ignore events older than that).
    pub async fn flow_changed_at(&self, tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT changed_at FROM running_flows WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    /// Records a flow as running (`active`) or stopped, with its schedule — unless a change at or after
    /// `changed_at` was recorded already (another replica applied a later event). Returns whether it applied.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_flow(
        &self,
        tx: &mut Tx,
        id: &str,
        tenant: &str,
        started_by: &str,
        version: i64,
        document: &Value,
        active: bool,
        changed_at: &str,
        schedule: Option<(&str, &str)>,
    ) -> Result<bool, StoreError> {
        let applied = sqlx::query(
            "INSERT INTO running_flows (id, tenant, started_by, version, document, active, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, \
             started_by = excluded.started_by, version = excluded.version, document = excluded.document, \
             active = excluded.active, changed_at = excluded.changed_at \
             WHERE running_flows.changed_at <= excluded.changed_at",
        )
        .bind(id)
        .bind(tenant)
        .bind(started_by)
        .bind(version)
        .bind(json_text(document))
        .bind(i64::from(active))
        .bind(changed_at)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        if !applied {
            return Ok(false);
        }
        sqlx::query("DELETE FROM schedules WHERE flow_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if let Some((cron, next_due)) = schedule {
            sqlx::query("INSERT INTO schedules (flow_id, cron, next_due) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(cron)
                .bind(next_due)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }

    /// Ids of the flows this service runs.
    pub async fn running_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM running_flows WHERE active = 1")
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    // ----- executions -----

    /// One execution.
    pub async fn execution(&self, id: &str) -> Result<Option<Execution>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXEC_COLUMNS}, message, state FROM executions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| execution_of(&r, true)).transpose()
    }

    /// An execution's steps in order.
    pub async fn steps(&self, id: &str) -> Result<Vec<Step>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, step_id, component_id, function, status, attempt, started_at, finished_at, input, \
             output, error FROM execution_steps WHERE execution_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Step {
                    seq: r.try_get::<i64, _>("seq")? as u32,
                    step_id: r.try_get("step_id")?,
                    component_id: r.try_get("component_id")?,
                    function: r.try_get("function")?,
                    status: r.try_get("status")?,
                    attempt: r.try_get::<i64, _>("attempt")? as u32,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    input: parse_opt(r.try_get("input")?),
                    output: parse_opt(r.try_get("output")?),
                    error: parse_opt(r.try_get("error")?),
                })
            })
            .collect()
    }

    /// A page of executions (without steps) and the total matching the filter.
    pub async fn list(&self, q: &ListQuery) -> Result<(Vec<Execution>, u64), StoreError> {
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut add = |sql: &str, value: &Option<String>| {
            if let Some(v) = value {
                binds.push(v.clone());
                conditions.push(format!("{sql} ${}", binds.len()));
            }
        };
        add("tenant =", &q.tenant);
        add("flow_id =", &q.flow_id);
        add("status =", &q.status);
        add("started_at >=", &q.from);
        add("started_at <=", &q.to);
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let order = if q.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {EXEC_COLUMNS} FROM executions {filter} ORDER BY started_at {order}, id {order} LIMIT {} OFFSET {}",
            q.page_size,
            u64::from(q.page_size) * u64::from(q.page_number.saturating_sub(1))
        );
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b.clone());
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        let items = rows
            .iter()
            .map(|r| execution_of(r, false))
            .collect::<Result<Vec<_>, _>>()?;
        let count_sql = format!("SELECT COUNT(*) FROM executions {filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total = count.fetch_one(self.db.pool()).await?;
        Ok((items, total.max(0) as u64))
    }

    /// Executions started in `[start, end)` grouped by `by`, largest first.
    pub async fn count(
        &self,
        tenant: Option<&str>,
        start: &str,
        end: &str,
        by: GroupBy,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let scope = if tenant.is_some() { "AND e.tenant = $3" } else { "" };
        let sql = match by {
            GroupBy::User | GroupBy::Flow => {
                let column = if by == GroupBy::User {
                    "e.user_id"
                } else {
                    "e.flow_id"
                };
                format!(
                    "SELECT {column} AS k, COUNT(*) AS n FROM executions e WHERE e.started_at >= $1 \
                     AND e.started_at < $2 {scope} GROUP BY {column} ORDER BY n DESC, k"
                )
            }
            GroupBy::Component => format!(
                "SELECT s.component_id AS k, COUNT(DISTINCT s.execution_id) AS n FROM execution_steps s \
                 JOIN executions e ON e.id = s.execution_id WHERE e.started_at >= $1 AND e.started_at < $2 \
                 {scope} GROUP BY s.component_id ORDER BY n DESC, k"
            ),
        };
        let mut query = sqlx::query(&sql).bind(start).bind(end);
        if let Some(t) = tenant {
            query = query.bind(t);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
            .collect()
    }

    /// Cancels a queued or running execution; `false` when it was already final.
    pub async fn cancel(&self, id: &str) -> Result<bool, StoreError> {
        let now = time::now_string();
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE executions SET status = 'cancelled', finished_at = $2, waiting_until = NULL, state = NULL, \
             error = $3 WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(&now)
        .bind(json_text(&StepError::new("Cancelled", "the execution was cancelled")))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done > 0)
    }

    /// Inserts a queued execution (a retry from failed steps) and, in the same transaction, its resume message.
    pub async fn insert_queued(&self, execution: &Execution, resume: &Envelope) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        upsert(&mut tx, execution, true).await?;
        outbox::enqueue(&mut tx, resume).await?;
        tx.commit().await
    }

    /// Claims parked executions due by `now`: each gets a new generation and a resume message, in one
    /// transaction (PostgreSQL: rows locked by another replica are skipped).
    pub async fn claim_due(&self, now: &str, limit: i64) -> Result<usize, StoreError> {
        let lock = match self.db.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.db.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT id, generation, tenant FROM executions WHERE waiting_until IS NOT NULL AND waiting_until <= $1 \
             ORDER BY waiting_until LIMIT $2 {lock}"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let generation: i64 = r.try_get::<i64, _>("generation")? + 1;
            let tenant: String = r.try_get("tenant")?;
            let event = Envelope::new(
                flowmate_domain::event::types::EXECUTION_RESUME,
                crate::SOURCE,
                serde_json::json!({"executionId": id, "generation": generation}),
            )
            .with_tenant(tenant);
            sqlx::query(
                "UPDATE executions SET waiting_until = NULL, generation = $2, owner = $3 WHERE id = $1",
            )
            .bind(&id)
            .bind(generation)
            .bind(&event.id)
            .execute(&mut *tx)
            .await?;
            outbox::enqueue(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Takes over an execution whose owning message was redelivered (its previous holder is gone): bumps the
    /// generation so a late checkpoint of the previous holder writes nothing. Returns the new generation.
    pub async fn take_over(&self, id: &str, owner: &str, generation: i64) -> Result<Option<i64>, StoreError> {
        let mut tx = self.db.begin().await?;
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
    pub async fn next_wake(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MIN(waiting_until) FROM executions WHERE waiting_until IS NOT NULL")
                .fetch_one(self.db.pool())
                .await?,
        )
    }

    /// Claims cron flows due by `now`: their next due time moves past `now` (missed ticks fire once) and each gets
    /// one `flow.execute`, in one transaction (PostgreSQL: rows locked by another replica are skipped).
    pub async fn claim_schedules(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
        trigger: impl Fn(&str, &str, &str) -> Option<Envelope>,
    ) -> Result<usize, StoreError> {
        let lock = match self.db.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let now_text = time::format(now);
        let mut tx = self.db.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT flow_id, cron, next_due FROM schedules WHERE next_due <= $1 ORDER BY next_due LIMIT $2 {lock}"
        ))
        .bind(&now_text)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let flow_id: String = r.try_get("flow_id")?;
            let cron: String = r.try_get("cron")?;
            let due: String = r.try_get("next_due")?;
            let next = flowmate_domain::cron::parse(&cron).and_then(|s| s.next_after(now));
            match next {
                Some(next) => {
                    let next = time::format(next);
                    sqlx::query("UPDATE schedules SET next_due = $2 WHERE flow_id = $1")
                        .bind(&flow_id)
                        .bind(&next)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(event) = trigger(&flow_id, &due, &next) {
                        outbox::enqueue(&mut tx, &event).await?;
                    }
                }
                None => {
                    sqlx::query("DELETE FROM schedules WHERE flow_id = $1")
                        .bind(&flow_id)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(event) = trigger(&flow_id, &due, "") {
                        outbox::enqueue(&mut tx, &event).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// The earliest due schedule, if any.
    pub async fn next_schedule(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MIN(next_due) FROM schedules")
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Deletes up to `batch` executions (with their steps) that finished before `before`; returns how many.
    pub async fn purge(&self, before: &str, batch: i64) -> Result<usize, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT $2",
        )
        .bind(before)
        .bind(batch)
        .fetch_all(self.db.pool())
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = placeholders(1, ids.len());
        let mut tx = self.db.begin().await?;
        for table in [
            "DELETE FROM execution_steps WHERE execution_id IN",
            "DELETE FROM executions WHERE id IN",
        ] {
            let sql = format!("{table} ({list})");
            let mut q = sqlx::query(&sql);
            for id in &ids {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }
}

const EXEC_COLUMNS: &str =
    "id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, finished_at, \
                            duration_ms, counters, error, response, waiting_until, owner, generation";

fn execution_of(r: &sqlx::any::AnyRow, full: bool) -> Result<Execution, StoreError> {
    let status: String = r.try_get("status")?;
    let trigger: String = r.try_get("trigger")?;
    let (message, state) = if full {
        (
            parse_opt(r.try_get("message")?).unwrap_or(Value::Null),
            parse_opt::<RunState>(r.try_get("state")?),
        )
    } else {
        (Value::Null, None)
    };
    Ok(Execution {
        id: r.try_get("id")?,
        flow_id: r.try_get("flow_id")?,
        flow_version: r.try_get("flow_version")?,
        tenant: r.try_get("tenant")?,
        user: r.try_get("user_id")?,
        status: Status::parse(&status).unwrap_or(Status::Failed),
        trigger: serde_json::from_str(&trigger).unwrap_or(TriggerInfo {
            kind: "unknown".into(),
            request_id: None,
            retry_of: None,
        }),
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        duration_ms: r.try_get("duration_ms")?,
        counters: parse_opt::<Counters>(r.try_get("counters")?).unwrap_or_default(),
        error: parse_opt(r.try_get("error")?),
        response: parse_opt(r.try_get("response")?),
        message,
        state,
        waiting_until: r.try_get("waiting_until")?,
        owner: r.try_get("owner")?,
        generation: r.try_get("generation")?,
    })
}

/// Inserts or updates the execution row. An update only applies while the execution is not cancelled and the
/// writer holds the current generation; `create_only` never updates. Returns whether it wrote.
async fn upsert(tx: &mut Tx, e: &Execution, create_only: bool) -> Result<bool, StoreError> {
    let on_conflict = if create_only {
        "DO NOTHING"
    } else {
        "DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, \
         duration_ms = excluded.duration_ms, counters = excluded.counters, error = excluded.error, \
         response = excluded.response, state = excluded.state, waiting_until = excluded.waiting_until, \
         owner = excluded.owner WHERE executions.status <> 'cancelled' AND executions.generation = excluded.generation \
         AND executions.flow_id = excluded.flow_id"
    };
    let sql = format!(
        "INSERT INTO executions (id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, \
         finished_at, duration_ms, counters, error, response, message, state, waiting_until, owner, generation) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
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
async fn write_loop(db: Db, rx: Arc<Mutex<mpsc::Receiver<(Checkpoint, Reply)>>>) {
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
