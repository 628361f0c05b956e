//! The SQL of the embedded queue: the schema and one function per statement the writer runs. They run on the
//! writer's own thread (rusqlite, statements cached), so a whole batch costs one hand-off, not one per statement.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};

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
#[derive(Debug)]
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
pub(super) fn prepare(conn: &Connection) -> rusqlite::Result<Bindings> {
    for statement in SCHEMA {
        conn.execute(statement, [])?;
    }
    let released = conn.execute(
        "UPDATE bus_messages SET locked = 0, redelivered = 1 WHERE locked = 1",
        [],
    )?;
    if released > 0 {
        tracing::info!(released, "released messages claimed before a restart");
    }
    // Exclusive groups belonged to consumers of the previous process; nobody will consume them again.
    conn.execute(
        "DELETE FROM bus_messages WHERE grp IN (SELECT grp FROM bus_bindings WHERE ephemeral = 1) \
         OR grp IN (SELECT grp || '.dlq' FROM bus_bindings WHERE ephemeral = 1)",
        [],
    )?;
    conn.execute("DELETE FROM bus_bindings WHERE ephemeral = 1", [])?;
    let mut bindings = Bindings::new();
    let mut statement = conn.prepare("SELECT grp, pattern FROM bus_bindings")?;
    let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    for row in rows {
        let (group, pattern) = row?;
        bindings.entry(group).or_default().insert(pattern);
    }
    Ok(bindings)
}

/// Records that `group` receives keys matching `pattern`; ephemeral bindings are dropped at the next open.
pub(super) fn insert_binding(
    conn: &Connection,
    group: &str,
    pattern: &str,
    ephemeral: bool,
) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO bus_bindings (grp, pattern, ephemeral) VALUES (?1, ?2, ?3)")?
        .execute(params![group, pattern, ephemeral])?;
    Ok(())
}

/// Enqueues one copy of a message for `group`.
pub(super) fn insert_message(
    conn: &Connection,
    group: &str,
    body: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO bus_messages (grp, body, attempt, available_at) VALUES (?1, ?2, 1, ?3)",
    )?
    .execute(params![group, body, now_ms])?;
    Ok(())
}

/// Locks up to `limit` available rows of `group`, oldest first.
pub(super) fn claim(
    conn: &Connection,
    group: &str,
    limit: u32,
    now_ms: i64,
) -> rusqlite::Result<Vec<ClaimedRow>> {
    let mut statement = conn.prepare_cached(
        "UPDATE bus_messages SET locked = 1
         WHERE seq IN (
             SELECT seq FROM bus_messages
             WHERE grp = ?1 AND locked = 0 AND available_at <= ?2
             ORDER BY seq LIMIT ?3
         )
         RETURNING seq, body, attempt, redelivered",
    )?;
    let mut rows = statement
        .query_map(params![group, now_ms, i64::from(limit)], |row| {
            Ok(ClaimedRow {
                seq: row.get(0)?,
                body: row.get(1)?,
                attempt: row.get(2)?,
                redelivered: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // RETURNING gives no order guarantee.
    rows.sort_by_key(|row| row.seq);
    Ok(rows)
}

/// When the earliest delayed (retrying) row of `group` becomes available, if there is one.
pub(super) fn next_due(conn: &Connection, group: &str, now_ms: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT MIN(available_at) FROM bus_messages WHERE grp = ?1 AND locked = 0 AND available_at > ?2",
    )?
    .query_row(params![group, now_ms], |row| row.get(0))
    .optional()
    .map(Option::flatten)
}

/// Removes a processed row.
pub(super) fn delete(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM bus_messages WHERE seq = ?1")?
        .execute(params![seq])?;
    Ok(())
}

/// Releases a row for another attempt once `available_at` has passed.
pub(super) fn reschedule(
    conn: &Connection,
    seq: i64,
    attempt: u32,
    available_at_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE bus_messages SET locked = 0, redelivered = 0, attempt = ?2, available_at = ?3 WHERE seq = ?1",
    )?
    .execute(params![seq, i64::from(attempt), available_at_ms])?;
    Ok(())
}

/// Moves a row to the dead-letter group `dlq`.
pub(super) fn dead_letter(
    conn: &Connection,
    seq: i64,
    dlq: &str,
    reason: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE bus_messages
         SET grp = ?2, reason = ?3, locked = 0, redelivered = 0, attempt = 1, available_at = ?4
         WHERE seq = ?1",
    )?
    .execute(params![seq, dlq, reason, now_ms])?;
    Ok(())
}

/// Removes and returns the unclaimed rows of `group`, oldest first.
pub(super) fn drain(conn: &Connection, group: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare_cached("DELETE FROM bus_messages WHERE grp = ?1 AND locked = 0 RETURNING seq, body")?;
    let mut rows = statement
        .query_map(params![group], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.sort_by_key(|(seq, _)| *seq);
    Ok(rows.into_iter().map(|(_, body)| body).collect())
}

/// Checks the file answers.
pub(super) fn ping(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))
}
