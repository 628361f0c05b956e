//! The execution service's database: the flows it runs, schedules, executions and steps. Checkpoints of many
//! concurrent executions are written by a group-commit writer (`writer`): one transaction for a batch, so
//! throughput grows with load instead of paying one commit per step. Claims of due work (`claims`) lock rows so
//! replicas never take the same one.

mod claims;
mod writer;

use std::sync::Arc;

use flowmate_domain::{execution::TriggerInfo, time, Envelope};
use flowmate_store::{outbox, Backend, Db, Row, StoreError, Tx};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

use self::writer::Reply;
pub use self::writer::{Checkpoint, Write};
use crate::model::{Counters, Execution, GroupBy, ListQuery, RunState, Status, Step, StepError};

/// A flow this service runs, as stored.
#[derive(Debug, Clone)]
pub struct RunningFlow {
    /// The flow document (JSON).
    pub document: Value,
    /// Who started it.
    pub started_by: String,
}

/// The execution store.
#[derive(Clone)]
pub struct Store {
    db: Db,
    writes: mpsc::Sender<(Checkpoint, Reply)>,
}

pub(super) fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(super) fn opt_json<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(json_text)
}

pub(super) fn parse_opt<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
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
            tokio::spawn(writer::write_loop(db.clone(), rx.clone()));
        }
        Store { db, writes: tx }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes a checkpoint in the next group commit. `Ok(false)`: nothing was written because the execution was
    /// cancelled or finished meanwhile, another holder took it over (its generation moved on), it belongs to
    /// another message or flow, or — for [`Write::Create`] — it exists already ([`Write`]).
    pub async fn checkpoint(&self, cp: Checkpoint) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send((cp, reply))
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the writer has stopped".to_owned())?
    }

    // ----- running flows -----

    /// The flow's marker (when its state last changed here, whether it runs) and, if it runs, the flow — one read.
    #[allow(clippy::type_complexity)]
    pub async fn running_flow(
        &self,
        id: &str,
    ) -> Result<Option<((String, bool), Option<RunningFlow>)>, StoreError> {
        let row =
            sqlx::query("SELECT document, started_by, changed_at, active FROM running_flows WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
        let Some(r) = row else { return Ok(None) };
        let active = r.try_get::<i64, _>("active")? == 1;
        let flow = if active {
            Some(RunningFlow {
                document: serde_json::from_str(&r.try_get::<String, _>("document")?)?,
                started_by: r.try_get("started_by")?,
            })
        } else {
            None
        };
        Ok(Some(((r.try_get("changed_at")?, active), flow)))
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
            "UPDATE executions SET status = 'cancelled', finished_at = $2, waiting_until = NULL, state = NULL, lease_until = NULL, \
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
        writer::upsert(&mut tx, execution, Write::Create).await?;
        outbox::enqueue(&mut tx, resume).await?;
        tx.commit().await
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
