//! Opening a database, running migrations, and transactions.

use std::{
    ops::{Deref, DerefMut},
    path::Path,
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    Any, AnyConnection, AnyPool, Executor,
};
use tokio::sync::Notify;

use crate::StoreError;

/// The longest one statistics refresh ([`Db::analyze`], [`Db::refresh_tables`]) may run.
pub const ANALYZE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (distributed mode).
    Postgres,
    /// SQLite (standalone mode and most tests).
    Sqlite,
}

impl Backend {
    /// `rows` parenthesised groups of `columns` placeholders each, for a multi-row `VALUES` list whose arguments
    /// are bound in order: `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite. SQLite finds a
    /// numbered parameter's name by walking a list, and the driver asks for every parameter's name, so binding a
    /// wide statement with numbered parameters costs time quadratic in its width; anonymous ones cost nothing.
    pub fn rows(self, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * (columns * 5 + 4));
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            out.push_str(&self.list(row * columns + 1, columns));
            out.push(')');
        }
        out
    }

    /// `n` placeholders bound in order from argument `from` (1-based), for an `IN (…)` list: `$from, …` on
    /// PostgreSQL, `?, …` on SQLite (see [`Backend::rows`]). Only for statements whose every parameter is written
    /// this way.
    pub fn list(self, from: usize, n: usize) -> String {
        match self {
            Backend::Postgres => crate::placeholders(from, n),
            Backend::Sqlite => vec!["?"; n].join(", "),
        }
    }
}

/// A service's migrations for each dialect (`services/<svc>/migrations/{postgres,sqlite}`).
#[derive(Clone, Copy)]
pub struct Migrations {
    /// `sqlx::migrate!("./migrations/postgres")`.
    pub postgres: &'static Migrator,
    /// `sqlx::migrate!("./migrations/sqlite")`.
    pub sqlite: &'static Migrator,
}

/// A service's database.
///
/// On SQLite, writes go through a single-connection pool so that write transactions never fail with
/// `SQLITE_BUSY` on lock upgrade, while reads use a pool of their own (WAL lets them run beside the writer). On
/// PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    reader: AnyPool,
    writer: AnyPool,
    backend: Backend,
    outbox_notify: Arc<Notify>,
}

impl Db {
    /// Opens the database at `url` (`postgres://…` or `sqlite://…`) and runs the service's migrations.
    /// Concurrent replicas starting at once are safe: PostgreSQL migrations take an advisory lock.
    pub async fn connect(url: &str, max_connections: u32, migrations: Migrations) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyConnectOptions::from_str(url)?;
        let (reader, writer) = match backend {
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                (pool.clone(), pool)
            }
            Backend::Sqlite => {
                let writer = sqlite_pool(1).connect_with(options.clone()).await?;
                let reader = sqlite_pool(max_connections.max(1)).connect_with(options).await?;
                (reader, writer)
            }
        };
        let migrator = match backend {
            Backend::Postgres => migrations.postgres,
            Backend::Sqlite => migrations.sqlite,
        };
        migrator.run(&writer).await?;
        let db = Db {
            reader,
            writer,
            backend,
            outbox_notify: Arc::new(Notify::new()),
        };
        db.analyze(&[]).await?;
        Ok(db)
    }

    /// Refreshes the planner's statistics of `tables` (every table of the database when empty) on PostgreSQL,
    /// within [`ANALYZE_TIMEOUT`]; nothing on SQLite, whose planner does without. Nothing else does it for
    /// PostgreSQL when autovacuum is off, and a table whose statistics say "empty" gets plans that walk it all.
    pub async fn analyze(&self, tables: &[&str]) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        let timeout = format!("SET LOCAL statement_timeout = {}", ANALYZE_TIMEOUT.as_millis());
        (&mut *tx).execute(timeout.as_str()).await?;
        let analyze = format!("ANALYZE {}", tables.join(", "));
        (&mut *tx).execute(analyze.trim_end()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Db::analyze`] of `tables` after a bulk write, then `VACUUM` of them so that counts over them can be
    /// answered from their indexes (the visibility map is only set by a vacuum). PostgreSQL only.
    pub async fn refresh_tables(&self, tables: &[&str]) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres || tables.is_empty() {
            return Ok(());
        }
        self.analyze(tables).await?;
        let mut conn = self.writer.acquire().await?;
        conn.execute(format!("SET statement_timeout = {}", ANALYZE_TIMEOUT.as_millis()).as_str())
            .await?;
        let vacuum = conn
            .execute(format!("VACUUM {}", tables.join(", ")).as_str())
            .await;
        conn.execute("SET statement_timeout = 0").await?;
        vacuum?;
        Ok(())
    }

    /// The URL of a SQLite file (created if missing).
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// The pool for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.reader
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. Dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = self.writer.begin().await?;
        Ok(Tx {
            inner,
            backend: self.backend,
            wrote_outbox: false,
            notify: self.outbox_notify.clone(),
        })
    }

    /// Whether the database answers.
    pub async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub(crate) fn outbox_notify(&self) -> &Arc<Notify> {
        &self.outbox_notify
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
}

/// A write transaction. Use it as a connection (`query.execute(&mut *tx)`); events written with
/// [`crate::outbox::enqueue`] are published after [`Tx::commit`].
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    backend: Backend,
    wrote_outbox: bool,
    notify: Arc<Notify>,
}

impl Tx {
    /// Which database the transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits, then wakes the outbox relay if events were written.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        if self.wrote_outbox {
            self.notify.notify_one();
        }
        Ok(())
    }

    pub(crate) fn mark_outbox(&mut self) {
        self.wrote_outbox = true;
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}
