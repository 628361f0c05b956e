//! The webhook service's own tests, below the gateway: the trigger spool that keeps webhooks accepted while the
//! broker cannot confirm (on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set), and `/readyz` answering
//! in time whatever is unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ready;
mod spool;
mod support;
