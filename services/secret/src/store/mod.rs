//! The secret service's SQL (PostgreSQL and SQLite through one implementation).

mod clients;
mod rotate;
mod sql;

pub use rotate::SealedTable;
pub use sql::SqlStore;
