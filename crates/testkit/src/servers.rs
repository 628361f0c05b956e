//! External servers for tests: PostgreSQL (`TEST_DATABASE_URL`), RabbitMQ (`TEST_AMQP_URL`) and MariaDB
//! (`TEST_MYSQL_URL`).

use sqlx::{Connection, Executor, PgConnection};

/// Installs a test log subscriber once: printed lines as `RUST_LOG` says (silent by default), and every line
/// captured for [`crate::captured_logs`] (FlowMate's at trace, the HTTP and gRPC stacks' at debug, the rest at
/// info).
pub fn init_tracing() {
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};
    let printed = tracing_subscriber::fmt::layer()
        .with_test_writer()
        .with_filter(EnvFilter::from_default_env());
    let captured = crate::logs::Capture.with_filter(EnvFilter::new(
        "info,flowmate=trace,reqwest=debug,hyper=debug,hyper_util=debug,tonic=debug,h2=debug",
    ));
    let _ = tracing_subscriber::registry()
        .with(printed)
        .with(captured)
        .try_init();
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The variable's value; `None` (with a note) when unset locally. In CI an unset variable panics.
fn required(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if in_ci() => panic!("{var} is not set: CI must run the {what} tests"),
        _ => {
            eprintln!("skipping {what} test: {var} is not set");
            None
        }
    }
}

/// The RabbitMQ URL for tests, or `None` to skip (never in CI).
pub fn amqp_url() -> Option<String> {
    required("TEST_AMQP_URL", "RabbitMQ")
}

/// The MariaDB/MySQL URL for tests (`TEST_MYSQL_URL`), or `None` to skip (never in CI).
pub fn mysql_url() -> Option<String> {
    required("TEST_MYSQL_URL", "MariaDB")
}

/// A PostgreSQL database created for one test and dropped by [`PgDatabase::drop_database`].
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// Creates a fresh database on the `TEST_DATABASE_URL` server, or `None` to skip (never in CI).
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = required("TEST_DATABASE_URL", "PostgreSQL")?;
        let name = format!("fm_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let url = replace_database(&admin_url, &name);
        Some(PgDatabase { admin_url, name, url })
    }

    /// Drops the database (connections still open are terminated).
    pub async fn drop_database(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.admin_url).await {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await;
        }
    }
}

/// Swaps the database name of a PostgreSQL URL (keeping credentials, host and parameters).
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Deletes a test's RabbitMQ exchange and its groups' queues (`<exchange>.<group>` and its `.dlq`), so runs leave
/// nothing behind. Exclusive groups delete themselves.
pub async fn delete_amqp_objects(url: &str, exchange: &str, groups: &[&str]) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for g in groups {
            for name in [format!("{exchange}.{g}"), format!("{exchange}.{g}.dlq")] {
                let _ = channel.queue_delete(&name, QueueDeleteOptions::default()).await;
            }
        }
        let _ = channel
            .exchange_delete(exchange, ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "test done").await;
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/test", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }
}
