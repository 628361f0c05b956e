//! Test helpers shared by FlowMate's test suites: a fresh PostgreSQL database per test, the RabbitMQ and MariaDB
//! URLs, a capturing SMTP server, a small client for the public REST API, and a TCP proxy a test can cut to make a
//! server unreachable for it alone. Servers are optional locally (tests skip with a note) and mandatory in CI
//! (`CI=true`): a missing server fails the run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod doubles;
mod logs;
pub mod oauth;
mod proxy;
mod servers;
mod smtp;

pub use api::{Api, Reply};
pub use doubles::{Collector, RecordingBus};
pub use logs::captured_logs;
pub use oauth::OAuthProvider;
pub use proxy::TcpProxy;
pub use servers::{amqp_url, delete_amqp_objects, init_tracing, mysql_url, PgDatabase};
pub use smtp::{Captured, SmtpServer};
pub use tempfile::TempDir;
