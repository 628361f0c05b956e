//! The execution service's own tests: its store on SQLite and PostgreSQL, and the code step's sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod code;
mod control;
mod store;
mod support;
