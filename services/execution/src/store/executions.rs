//! Reading executions and steps, the executions API's list and counts, cancelling, and queueing an execution
//! with the message that runs it.

use flowmate_domain::{time, Envelope};
use flowmate_store::{outbox, Db, Row, StoreError};

use super::{
    rows::{execution_of, json_text, step_of, EXEC_COLUMNS},
    writer,
};
use crate::model::{Admission, Execution, GroupBy, ListQuery, Step, StepError, Write};

/// One execution.
pub(super) async fn one(db: &Db, id: &str) -> Result<Option<Execution>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {EXEC_COLUMNS}, message, state FROM executions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| execution_of(&r, true)).transpose()
}

/// An execution's steps in order.
pub(super) async fn steps(db: &Db, id: &str) -> Result<Vec<Step>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, step_id, component_id, function, status, attempt, started_at, finished_at, input, \
         output, error, logs FROM execution_steps WHERE execution_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(step_of).collect()
}

/// A page of executions (without steps) and the total matching the filter.
pub(super) async fn list(db: &Db, q: &ListQuery) -> Result<(Vec<Execution>, u64), StoreError> {
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut add = |sql: &str, value: Option<&str>| {
        if let Some(v) = value {
            binds.push(v.to_owned());
            conditions.push(format!("{sql} ${}", binds.len()));
        }
    };
    add("tenant =", q.tenant.as_deref());
    add("flow_id =", q.flow_id.as_deref());
    add("parent_id =", q.parent_id.as_deref());
    add("status =", q.status.map(|s| s.as_str()));
    add("started_at >=", q.from.as_deref());
    add("started_at <=", q.to.as_deref());
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
    let rows = query.fetch_all(db.pool()).await?;
    let items = rows
        .iter()
        .map(|r| execution_of(r, false))
        .collect::<Result<Vec<_>, _>>()?;
    let count_sql = format!("SELECT COUNT(*) FROM executions {filter}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(db.pool()).await?;
    Ok((items, total.max(0) as u64))
}

/// Executions started in `[start, end)` grouped by `by`, largest first.
pub(super) async fn count(
    db: &Db,
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
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
        .collect()
}

/// Cancels a queued or running execution; `false` when it was already final.
pub(super) async fn cancel(db: &Db, id: &str) -> Result<bool, StoreError> {
    let now = time::now_string();
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE executions SET status = 'cancelled', finished_at = $2, waiting_until = NULL, state = NULL, \
         lease_until = NULL, error = $3 WHERE id = $1 AND status IN ('queued', 'running')",
    )
    .bind(id)
    .bind(&now)
    .bind(json_text(&StepError::new(
        "Cancelled",
        "the execution was cancelled",
    )))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(done > 0)
}

/// Inserts a queued execution and, in the same transaction, the message that runs it.
pub(super) async fn insert_queued(
    db: &Db,
    execution: &Execution,
    message: &Envelope,
) -> Result<Admission, StoreError> {
    let mut tx = db.begin().await?;
    let admission = super::quotas::admit(&mut tx, &execution.tenant).await?;
    if matches!(admission, Admission::Limited { .. }) {
        return Ok(admission);
    }
    writer::upsert(&mut tx, execution, Write::Create).await?;
    outbox::enqueue(&mut tx, message).await?;
    tx.commit().await?;
    Ok(admission)
}
