//! Database pools of `sql.query`, one per database URL and statement timeout, kept per replica so steps do not
//! reconnect: at most [`MAX_POOLS`] (the least recently used is closed beyond that), each of at most
//! [`POOL_SIZE`] connections that close after [`IDLE`] unused, and a pool unused for [`UNUSED`] is closed.
//! Pools are keyed by a SHA-256 of the URL, so a changed secret gets a new pool and no URL is held as a key.
//!
//! The statement timeout is set on each connection when it opens: `statement_timeout` on PostgreSQL,
//! `max_statement_time` on MariaDB (`max_execution_time` on MySQL, which bounds SELECTs only). SQLite has no
//! server to enforce one: the step's own timer does.

use std::{
    collections::HashMap,
    path::{Component, Path, PathBuf},
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

use sqlx::{
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    Executor, MySqlPool, PgPool, Row, SqlitePool,
};

use crate::model::StepError;

/// The most pools one replica keeps.
pub const MAX_POOLS: usize = 32;
/// Connections per pool.
pub const POOL_SIZE: u32 = 4;
/// A connection unused this long is closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// A pool unused this long is closed.
pub const UNUSED: Duration = Duration::from_secs(600);
/// How long a step waits for a connection.
const ACQUIRE: Duration = Duration::from_secs(10);

/// A pool of one database.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

impl Pool {
    fn close_later(self) {
        tokio::spawn(async move {
            match self {
                Pool::Postgres(p) => p.close().await,
                Pool::MySql(p) => p.close().await,
                Pool::Sqlite(p) => p.close().await,
            }
        });
    }
}

struct Entry {
    pool: Pool,
    used: Instant,
}

/// The pools of this replica.
pub struct Pools {
    sqlite_dir: Option<PathBuf>,
    pools: Mutex<HashMap<(String, u64), Entry>>,
}

fn config_error(m: impl Into<String>) -> StepError {
    StepError::new("CredentialError", m)
}

impl Pools {
    /// No pools yet; `sqlite:` URLs resolve under `sqlite_dir` (refused without it).
    pub fn new(sqlite_dir: Option<PathBuf>) -> Pools {
        Pools {
            sqlite_dir,
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// The pool of `url` whose connections time statements out after `timeout` (connecting lazily).
    pub fn get(&self, url: &str, timeout: Duration) -> Result<Pool, StepError> {
        let key = (sha256_hex(url), timeout.as_millis() as u64);
        let now = Instant::now();
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = pools.get_mut(&key) {
            e.used = now;
            return Ok(e.pool.clone());
        }
        let stale: Vec<_> = pools
            .iter()
            .filter(|(_, e)| now.duration_since(e.used) > UNUSED)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(e) = pools.remove(&k) {
                e.pool.close_later();
            }
        }
        if pools.len() >= MAX_POOLS {
            let oldest = pools.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
            if let Some(e) = oldest.and_then(|k| pools.remove(&k)) {
                e.pool.close_later();
            }
        }
        let pool = self.open(url, timeout)?;
        pools.insert(
            key,
            Entry {
                pool: pool.clone(),
                used: now,
            },
        );
        Ok(pool)
    }

    fn open(&self, url: &str, timeout: Duration) -> Result<Pool, StepError> {
        let ms = timeout.as_millis().max(1) as u64;
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|_| config_error("the secret's url is not a valid PostgreSQL URL"))?
                    .application_name("flowmate-sql-step")
                    .options([("statement_timeout", ms.to_string())]);
                Ok(Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .min_connections(0)
                        .idle_timeout(IDLE)
                        .acquire_timeout(ACQUIRE.min(timeout))
                        .connect_lazy_with(options),
                ))
            }
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                let options = MySqlConnectOptions::from_str(&url)
                    .map_err(|_| config_error("the secret's url is not a valid MySQL URL"))?;
                Ok(Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .min_connections(0)
                        .idle_timeout(IDLE)
                        .acquire_timeout(ACQUIRE.min(timeout))
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                let version: String = conn.fetch_one("SELECT VERSION()").await?.try_get(0)?;
                                // Numbers FlowMate computed, not user data.
                                let set = if version.to_ascii_lowercase().contains("mariadb") {
                                    format!("SET SESSION max_statement_time = {}", ms as f64 / 1000.0)
                                } else {
                                    format!("SET SESSION max_execution_time = {ms}")
                                };
                                conn.execute(set.as_str()).await?;
                                Ok(())
                            })
                        })
                        .connect_lazy_with(options),
                ))
            }
            "sqlite" => {
                let path = self.sqlite_path(url)?;
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .busy_timeout(timeout.min(Duration::from_secs(30)));
                Ok(Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .min_connections(0)
                        .idle_timeout(IDLE)
                        .acquire_timeout(ACQUIRE.min(timeout))
                        .connect_lazy_with(options),
                ))
            }
            _ => Err(config_error(
                "the secret's url must start with postgres://, mysql:// (or mariadb://) or sqlite:",
            )),
        }
    }

    /// `sqlite:<file>` (also `sqlite://<file>`) as a file under the SQLite directory: a relative path without
    /// `..`, so a flow cannot open the server's own files.
    fn sqlite_path(&self, url: &str) -> Result<PathBuf, StepError> {
        let Some(dir) = &self.sqlite_dir else {
            return Err(config_error(
                "SQLite databases are disabled on this server (FLOWMATE_SQL_SQLITE_DIR is not set)",
            ));
        };
        let rest = url["sqlite:".len()..].trim_start_matches("//");
        let name = rest.split('?').next().unwrap_or_default();
        let path = Path::new(name);
        let plain = !name.is_empty()
            && !name.contains(':')
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(config_error(
                "a sqlite: url names a file relative to the server's SQLite directory (no /, .. or :memory:)",
            ));
        }
        Ok(dir.join(path))
    }
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_stay_in_their_directory() {
        let pools = Pools::new(Some(PathBuf::from("/srv/sqlite")));
        assert_eq!(
            pools.sqlite_path("sqlite:reports.db").unwrap(),
            PathBuf::from("/srv/sqlite/reports.db")
        );
        assert_eq!(
            pools.sqlite_path("sqlite://a/b.db?mode=rwc").unwrap(),
            PathBuf::from("/srv/sqlite/a/b.db")
        );
        for bad in [
            "sqlite:///etc/passwd",
            "sqlite:../x.db",
            "sqlite::memory:",
            "sqlite:",
            "sqlite:a/../../b",
        ] {
            assert!(pools.sqlite_path(bad).is_err(), "{bad}");
        }
        assert!(Pools::new(None).sqlite_path("sqlite:a.db").is_err());
    }
}
