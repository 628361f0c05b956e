//! The SQL of the embedded queue: the schema and one function per statement the writer runs.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::SqliteConnection;

/// Declared groups and their routing-key patterns.
pub(super) type Bindings = BTreeMap<String, BTreeSet<String>>;

/// Dead letters are ordinary rows of the group `<group>.dlq`, so draining and consuming them need nothing extra.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS bus_bindings (
        grp TEXT NOT NULL,
        pattern TEXT NOT NULL,
        ephemeral INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (grp, pattern)
    )",
    "CREATE TABLE IF NOT EXISTS bus_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        grp TEXT NOT NULL,
        body TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        available_at INTEGER NOT NULL,
        locked INTEGER NOT NULL DEFAULT 0,
        redelivered INTEGER NOT NULL DEFAULT 0,
        reason TEXT
    )",
    "CREATE INDEX IF NOT EXISTS bus_messages_claim ON bus_messages (grp, locked, seq)",
];

/// A row handed to a consumer.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ClaimedRow {
    /// Row id, used to settle it.
    pub(super) seq: i64,
    /// The envelope as JSON.
    pub(super) body: String,
    /// 1-based attempt number.
    pub(super) attempt: i64,
    /// Claimed before by a process that stopped without settling it.
    pub(super) redelivered: bool,
}

/// Creates the tables, releases the claims of a previous process and loads the bindings.
///
/// Only one process owns the file, so every row still locked was claimed by a process that is gone: it goes back
/// to the queue marked as redelivered.
pub(super) async fn prepare(conn: &mut SqliteConnection) -> Result<Bindings, sqlx::Error> {
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    let released = sqlx::query("UPDATE bus_messages SET locked = 0, redelivered = 1 WHERE locked = 1")
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if released > 0 {
        tracing::info!(released, "released messages claimed before a restart");
    }
    // Exclusive groups belonged to consumers of the previous process; nobody will consume them again.
    sqlx::query(
        "DELETE FROM bus_messages WHERE grp IN (SELECT grp FROM bus_bindings WHERE ephemeral = 1) \
         OR grp IN (SELECT grp || '.dlq' FROM bus_bindings WHERE ephemeral = 1)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM bus_bindings WHERE ephemeral = 1")
        .execute(&mut *conn)
        .await?;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT grp, pattern FROM bus_bindings")
        .fetch_all(&mut *conn)
        .await?;
    let mut bindings = Bindings::new();
    for (group, pattern) in rows {
        bindings.entry(group).or_default().insert(pattern);
    }
    Ok(bindings)
}

/// Records that `group` receives keys matching `pattern`; ephemeral bindings are dropped at the next open.
pub(super) async fn insert_binding(
    conn: &mut SqliteConnection,
    group: &str,
    pattern: &str,
    ephemeral: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT OR IGNORE INTO bus_bindings (grp, pattern, ephemeral) VALUES (?1, ?2, ?3)")
        .bind(group)
        .bind(pattern)
        .bind(ephemeral)
        .execute(conn)
        .await?;
    Ok(())
}

/// Enqueues one copy of a message for `group`.
pub(super) async fn insert_message(
    conn: &mut SqliteConnection,
    group: &str,
    body: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO bus_messages (grp, body, attempt, available_at) VALUES (?1, ?2, 1, ?3)")
        .bind(group)
        .bind(body)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks up to `limit` available rows of `group`, oldest first.
pub(super) async fn claim(
    conn: &mut SqliteConnection,
    group: &str,
    limit: u32,
    now_ms: i64,
) -> Result<Vec<ClaimedRow>, sqlx::Error> {
    let mut rows: Vec<ClaimedRow> = sqlx::query_as(
        "UPDATE bus_messages SET locked = 1
         WHERE seq IN (
             SELECT seq FROM bus_messages
             WHERE grp = ?1 AND locked = 0 AND available_at <= ?2
             ORDER BY seq LIMIT ?3
         )
         RETURNING seq, body, attempt, redelivered",
    )
    .bind(group)
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    // RETURNING gives no order guarantee.
    rows.sort_by_key(|row| row.seq);
    Ok(rows)
}

/// When the earliest delayed (retrying) row of `group` becomes available, if there is one.
pub(super) async fn next_due(
    conn: &mut SqliteConnection,
    group: &str,
    now_ms: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let (due,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(available_at) FROM bus_messages WHERE grp = ?1 AND locked = 0 AND available_at > ?2",
    )
    .bind(group)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(due)
}

/// Removes a processed row.
pub(super) async fn delete(conn: &mut SqliteConnection, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bus_messages WHERE seq = ?1")
        .bind(seq)
        .execute(conn)
        .await?;
    Ok(())
}

/// Releases a row for another attempt once `available_at` has passed.
pub(super) async fn reschedule(
    conn: &mut SqliteConnection,
    seq: i64,
    attempt: u32,
    available_at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bus_messages SET locked = 0, redelivered = 0, attempt = ?2, available_at = ?3 WHERE seq = ?1",
    )
    .bind(seq)
    .bind(i64::from(attempt))
    .bind(available_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a row to the dead-letter group `dlq`.
pub(super) async fn dead_letter(
    conn: &mut SqliteConnection,
    seq: i64,
    dlq: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bus_messages
         SET grp = ?2, reason = ?3, locked = 0, redelivered = 0, attempt = 1, available_at = ?4
         WHERE seq = ?1",
    )
    .bind(seq)
    .bind(dlq)
    .bind(reason)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes and returns the unclaimed rows of `group`, oldest first.
pub(super) async fn drain(conn: &mut SqliteConnection, group: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut rows: Vec<(i64, String)> =
        sqlx::query_as("DELETE FROM bus_messages WHERE grp = ?1 AND locked = 0 RETURNING seq, body")
            .bind(group)
            .fetch_all(conn)
            .await?;
    rows.sort_by_key(|(seq, _)| *seq);
    Ok(rows.into_iter().map(|(_, body)| body).collect())
}

/// Checks the file answers.
pub(super) async fn ping(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(conn).await?;
    Ok(())
}
