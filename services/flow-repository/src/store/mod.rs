//! The flow repository's SQL (PostgreSQL and SQLite through one implementation).

mod rows;
mod sql;

pub use sql::SqlStore;
