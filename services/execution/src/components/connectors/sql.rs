//! `sql.query`: one parameterised statement on PostgreSQL, MySQL/MariaDB or SQLite. `fields.params` are
//! expressions evaluated against the message and bound as parameters (numbers as BIGINT/DOUBLE, strings as
//! text, booleans, null, objects and arrays as JSON): data never becomes SQL text. A statement that returns rows
//! (or is a query: SELECT, WITH, VALUES, SHOW, …) emits them as an array of objects; any other emits
//! `{"rowsAffected": n}`. More rows than `fields.maxRows` fail the step, as does a statement slower than
//! `fields.timeoutMs`. Errors carry the database's message, never the URL or its password.

use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{json, Value};
use sqlx::{Either, Executor};

use super::{scrub, sql_pools::Pool, sql_pools::Pools, sql_rows, timeout_of, url_of, StepContext};
use crate::{
    credentials::SecretValue,
    expr::{self, Limits, Scope},
    model::StepError,
};

/// The default statement timeout.
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The default row cap.
const DEFAULT_MAX_ROWS: u64 = 1000;
/// The highest row cap a node may set.
const MAX_MAX_ROWS: u64 = 100_000;

/// The start-time check of `fields.params`, `maxRows` and `timeoutMs`.
pub fn check_fields(fields: &Value) -> Result<(), String> {
    if fields
        .get("query")
        .and_then(Value::as_str)
        .is_some_and(|q| q.contains("{{"))
    {
        return Err(
            "fields.query is not templated (data never becomes SQL): pass values with fields.params and placeholders"
                .into(),
        );
    }
    match fields.get("params") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Value::String(e) = item {
                    if !e.contains("{{") {
                        expr::check(e).map_err(|m| format!("fields.params[{i}] does not compile: {m}"))?;
                    }
                }
            }
        }
        Some(_) => return Err("fields.params must be an array of expressions".into()),
    }
    match fields.get("maxRows") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|n| (1..=MAX_MAX_ROWS).contains(&n)) => {}
        Some(_) => {
            return Err(format!(
                "fields.maxRows must be a number from 1 to {MAX_MAX_ROWS}"
            ))
        }
    }
    match fields.get("timeoutMs") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => Ok(()),
        Some(_) => Err("fields.timeoutMs must be a positive number of milliseconds".into()),
    }
}

/// The parameters: each string evaluated as an expression (or rendered, when it holds `{{ }}`), each other
/// JSON value as it is.
fn params(fields: &Value, scope: Scope<'_>, limits: Limits) -> Result<Vec<Value>, StepError> {
    let Some(items) = fields.get("params").and_then(Value::as_array) else {
        return Ok(vec![]);
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            match item {
                Value::String(e) if e.contains("{{") => expr::render(item, scope, limits),
                Value::String(e) => expr::eval(e, scope, limits).map(|v| v.unwrap_or(Value::Null)),
                other => Ok(other.clone()),
            }
            .map_err(|m| StepError::new("ExpressionError", format!("fields.params[{i}]: {m}")))
        })
        .collect()
}

/// Whether the statement is a query by its first keyword (so an empty result is `[]`, not a row count).
fn is_query(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    // Leading comments and parentheses.
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            rest = r.trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(
        word.as_str(),
        "SELECT" | "WITH" | "VALUES" | "SHOW" | "EXPLAIN" | "PRAGMA" | "DESCRIBE" | "DESC" | "TABLE"
    )
}

/// The database's error as a step error, without the URL.
fn db_error(e: sqlx::Error) -> StepError {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            // Statement timeouts: PostgreSQL 57014, MariaDB 1969, MySQL 3024, SQLite 9 (interrupted).
            let name = if matches!(code.as_str(), "57014" | "1969" | "3024" | "70100" | "9") {
                "Timeout"
            } else {
                "SQLError"
            };
            let message = if code.is_empty() {
                d.message().to_owned()
            } else {
                format!("{} (code {code})", d.message())
            };
            StepError::new(name, message)
        }
        sqlx::Error::PoolTimedOut => StepError::new(
            "SQLError",
            "no database connection in time (the database is unreachable or overloaded)",
        ),
        sqlx::Error::Io(io) => StepError::new("SQLError", format!("could not reach the database: {io}")),
        sqlx::Error::Tls(t) => StepError::new("SQLError", format!("TLS to the database failed: {t}")),
        sqlx::Error::Configuration(_) => {
            StepError::new("CredentialError", "the secret's url is not a valid database URL")
        }
        other => StepError::new("SQLError", other.to_string()),
    }
}

/// What a statement gave back.
enum Answer {
    Rows(Vec<Value>),
    Affected(u64),
}

/// Runs the statement on one backend: binds, streams at most `max + 1` rows, within `timeout` (after which the
/// connection is closed rather than returned to the pool mid-statement).
macro_rules! on_backend {
    ($pool:expr, $sql:expr, $params:expr, $timeout:expr, $max:expr, $row:path, $bind:ident, $before:path) => {{
        let mut conn = $pool.acquire().await.map_err(db_error)?;
        $before(&mut conn, $timeout).await?;
        let mut q = sqlx::query($sql);
        for p in $params {
            q = $bind(q, p);
        }
        let work = async {
            let mut stream = (&mut *conn).fetch_many(q);
            let (mut rows, mut affected, mut returned) = (Vec::new(), 0u64, false);
            while let Some(item) = stream.try_next().await.map_err(db_error)? {
                match item {
                    Either::Left(done) => affected += done.rows_affected(),
                    Either::Right(row) => {
                        returned = true;
                        if rows.len() as u64 >= $max {
                            return Err(too_many($max));
                        }
                        rows.push($row(&row).map_err(|m| StepError::new("SQLError", m))?);
                    }
                }
            }
            Ok(if returned || is_query($sql) {
                Answer::Rows(rows)
            } else {
                Answer::Affected(affected)
            })
        };
        match tokio::time::timeout($timeout, work).await {
            Ok(answer) => answer,
            Err(_) => {
                conn.close_on_drop();
                Err(timed_out($timeout))
            }
        }
    }};
}

/// PostgreSQL and MySQL enforce the timeout themselves (set when each connection opens).
async fn server_side<C>(_conn: &mut C, _timeout: Duration) -> Result<(), StepError> {
    Ok(())
}

/// SQLite runs statements in this process: a progress handler interrupts the statement at the deadline, so a
/// runaway query does not keep its thread busy after the step gave up.
async fn sqlite_deadline(
    conn: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
    timeout: Duration,
) -> Result<(), StepError> {
    let deadline = std::time::Instant::now() + timeout;
    conn.lock_handle()
        .await
        .map_err(db_error)?
        .set_progress_handler(10_000, move || std::time::Instant::now() < deadline);
    Ok(())
}

fn too_many(max: u64) -> StepError {
    StepError::new(
        "SQLError",
        format!(
            "the query returned more than maxRows ({max}) rows; narrow it (LIMIT) or raise fields.maxRows"
        ),
    )
}

fn timed_out(timeout: Duration) -> StepError {
    StepError::new(
        "Timeout",
        format!(
            "the statement took longer than {} ms (fields.timeoutMs)",
            timeout.as_millis()
        ),
    )
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
type MyQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;
type LiteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_pg(q: PgQuery<'_>, v: Value) -> PgQuery<'_> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Bool(b) => q.bind(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => q.bind(i),
            None => q.bind(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => q.bind(s),
        other => q.bind(sqlx::types::Json(other)),
    }
}

fn bind_mysql(q: MyQuery<'_>, v: Value) -> MyQuery<'_> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Bool(b) => q.bind(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => q.bind(i),
            (None, Some(u)) => q.bind(u),
            _ => q.bind(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => q.bind(s),
        other => q.bind(other.to_string()),
    }
}

fn bind_sqlite(q: LiteQuery<'_>, v: Value) -> LiteQuery<'_> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Bool(b) => q.bind(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => q.bind(i),
            None => q.bind(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => q.bind(s),
        other => q.bind(other.to_string()),
    }
}

/// `sql.query` on the message.
pub async fn run(
    pools: &Pools,
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    limits: Limits,
    secret: &SecretValue,
) -> Result<Value, StepError> {
    let url = url_of(secret)?;
    let sql = fields
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| {
            StepError::new(
                "ConfigurationError",
                format!("node {}: fields.query is required", cx.node_id),
            )
        })?;
    let params = params(fields, scope, limits)?;
    let timeout = timeout_of(fields, DEFAULT_TIMEOUT_MS);
    let max = fields
        .get("maxRows")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_ROWS)
        .clamp(1, MAX_MAX_ROWS);
    let answer: Result<Answer, StepError> = match pools.get(&url, timeout)? {
        Pool::Postgres(p) => on_backend!(p, sql, params, timeout, max, sql_rows::pg, bind_pg, server_side),
        Pool::MySql(p) => on_backend!(
            p,
            sql,
            params,
            timeout,
            max,
            sql_rows::mysql,
            bind_mysql,
            server_side
        ),
        Pool::Sqlite(p) => {
            on_backend!(
                p,
                sql,
                params,
                timeout,
                max,
                sql_rows::sqlite,
                bind_sqlite,
                sqlite_deadline
            )
        }
    };
    match answer {
        Ok(Answer::Rows(rows)) => Ok(Value::Array(rows)),
        Ok(Answer::Affected(n)) => Ok(json!({"rowsAffected": n})),
        Err(e) => Err(StepError::new(&e.name, scrub(&e.message, &url))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_writes_by_their_first_keyword() {
        for q in [
            "SELECT 1",
            "  with x as (select 1) select * from x",
            "-- c\n/* d */ (SELECT 1)",
            "values (1)",
        ] {
            assert!(is_query(q), "{q}");
        }
        for q in [
            "INSERT INTO t VALUES (1)",
            "update t set a = 1",
            "DELETE FROM t",
            "-- select\nDELETE FROM t",
        ] {
            assert!(!is_query(q), "{q}");
        }
    }

    #[test]
    fn field_checks_name_the_problem() {
        assert!(check_fields(&json!({"params": ["$.a", 3, null]})).is_ok());
        assert!(check_fields(&json!({"params": "$.a"}))
            .unwrap_err()
            .contains("array"));
        assert!(check_fields(&json!({"params": ["$.a +"]}))
            .unwrap_err()
            .contains("params[0]"));
        assert!(check_fields(&json!({"maxRows": 0})).is_err());
        assert!(
            check_fields(&json!({"query": "SELECT * FROM t WHERE a = '{{ $.a }}'"}))
                .unwrap_err()
                .contains("not templated")
        );
        assert!(check_fields(&json!({"timeoutMs": -1})).is_err());
    }
}
