//! The identity service's SQL (PostgreSQL and SQLite through one implementation).

mod directory;
mod rows;
mod sql;

pub use sql::SqlStore;
