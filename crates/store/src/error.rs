//! Store errors: sqlx errors stop here.

/// A persistence failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (works on both drivers).
    #[error("unique constraint violated")]
    UniqueViolation,
    /// The database cannot be reached or answered with an error.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (a bug or a corrupted row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The store's background writer has stopped (the service is shutting down).
    #[error("the store's writer has stopped")]
    WriterStopped,
    /// The URL names a database FlowMate does not support.
    #[error("unsupported database url (use postgres:// or sqlite://)")]
    UnsupportedUrl,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            _ => StoreError::Database(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
