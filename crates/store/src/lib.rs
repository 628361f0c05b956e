//! Persistence shared by every service: a pool for PostgreSQL or SQLite chosen by URL, the service's own
//! migrations, one transaction helper, error mapping, and the transactional outbox that makes "change the database,
//! then publish an event" crash-safe.
//!
//! SQL is written once in the portable subset (`$1` placeholders, TEXT/BIGINT columns, RFC 3339 text timestamps)
//! and runs on both drivers through sqlx's `Any` driver; dialect-specific SQL is the exception.
//!
//! Every service's first migration creates the outbox table:
//! ```sql
//! -- PostgreSQL
//! CREATE TABLE outbox (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
//! -- SQLite
//! CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
//! ```

mod db;
mod error;
mod list;
pub mod outbox;
mod owners;

pub use db::{Backend, Db, Migrations, Tx, ANALYZE_TIMEOUT};
pub use error::StoreError;
pub use list::ListSql;
pub use owners::{delete_dependents, replace_owners};

/// A `LIKE … ESCAPE '\\'` pattern matching `needle` literally (lower-cased) anywhere in the text.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `$from, $from+1, …` — `n` numbered placeholders for a dynamically sized `IN (…)` list.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
/// Cuts `n` rows into power-of-two chunks of at most `max` (a power of two) rows each: multi-row statements then
/// come in a handful of shapes, each prepared once and reused, however the batches happen to be sized.
pub fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let mut size = max.max(1);
        while size > n {
            size /= 2;
        }
        sizes.push(size);
        n -= size;
    }
    sizes
}

pub use sqlx::{self, any::AnyRow, migrate::Migrator, Row};

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_cut_into_few_shapes() {
        assert_eq!(super::chunk_sizes(0, 64), Vec::<usize>::new());
        assert_eq!(super::chunk_sizes(1, 64), vec![1]);
        assert_eq!(super::chunk_sizes(37, 64), vec![32, 4, 1]);
        assert_eq!(super::chunk_sizes(200, 64), vec![64, 64, 64, 8]);
    }

    #[test]
    fn multi_row_placeholders_are_numbered_on_postgres_and_anonymous_on_sqlite() {
        use super::Backend;
        assert_eq!(Backend::Postgres.rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Backend::Sqlite.rows(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(Backend::Postgres.list(3, 2), "$3, $4");
        assert_eq!(Backend::Sqlite.list(3, 2), "?, ?");
    }

    #[test]
    fn search_patterns_are_literal() {
        assert_eq!(super::like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
