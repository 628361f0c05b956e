//! The template service's SQL (PostgreSQL and SQLite through one implementation).

mod sql;

pub use sql::SqlStore;
