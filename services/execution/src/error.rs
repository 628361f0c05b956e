//! The execution service's errors and how they render.

use flowmate_domain::{ErrorCode, Fault};
use flowmate_store::StoreError;

/// Everything an execution operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// A malformed id or parameter.
    #[error("{0}")]
    Invalid(String),
    /// Absent or outside the caller's scope.
    #[error("No execution found")]
    NotFound,
    /// The flow to run is not active (or not visible).
    #[error("Flow {0} either does not exist or is inactive.")]
    FlowNotActive(String),
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// The operation does not fit the execution's state.
    #[error("{0}")]
    Conflict(String),
    /// The caller's token was not accepted.
    #[error(transparent)]
    Unauthenticated(#[from] flowmate_auth::AuthError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus failed.
    #[error("bus: {0}")]
    Bus(String),
    /// An unexpected failure.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ExecutionError {
    fn from(e: sqlx::Error) -> Self {
        ExecutionError::Store(StoreError::from(e))
    }
}

impl From<ExecutionError> for Fault {
    fn from(e: ExecutionError) -> Fault {
        match e {
            ExecutionError::Invalid(_) => Fault::new(ErrorCode::InvalidArgument, e.to_string()),
            ExecutionError::NotFound | ExecutionError::FlowNotActive(_) => {
                Fault::new(ErrorCode::NotFound, e.to_string())
            }
            ExecutionError::MissingPermission => Fault::new(ErrorCode::Forbidden, e.to_string()),
            ExecutionError::Conflict(_) => Fault::new(ErrorCode::FailedPrecondition, e.to_string()),
            ExecutionError::Unauthenticated(a) => a.into(),
            ExecutionError::Bus(err) => {
                tracing::error!(error = %err, "execution service could not publish");
                Fault::new(ErrorCode::Unavailable, "service unavailable")
            }
            ExecutionError::Store(err) => {
                tracing::error!(error = %err, "execution store failed");
                Fault::internal()
            }
            ExecutionError::Internal(err) => {
                tracing::error!(error = %err, "execution service failed");
                Fault::internal()
            }
        }
    }
}

/// Shorthand for execution results.
pub type Result<T, E = ExecutionError> = std::result::Result<T, E>;
