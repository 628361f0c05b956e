//! The execution service's own tests: its store on SQLite and PostgreSQL, the code step's sandbox, and the
//! connector steps (SQL on three databases, SMTP, AMQP).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod code;
mod connectors;
mod control;
mod sql;
mod store;
mod support;
