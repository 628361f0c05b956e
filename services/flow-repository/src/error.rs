//! The flow repository's errors and how they render (API.md §3 messages).

use flowmate_domain::{flow::FlowStatus, ErrorCode, Fault};
use flowmate_store::StoreError;

/// Everything a flow operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A malformed id.
    #[error("Invalid id")]
    InvalidId,
    /// Absent or outside the caller's scope (reads, updates, deletes).
    #[error("No flow found")]
    NotFound,
    /// Absent or outside the caller's scope (start and stop, as OIH words it).
    #[error("No flow with this ID found")]
    NoFlowWithId,
    /// Running flows cannot be changed or deleted.
    #[error("Flow is not inactive. Current status: {}", .0.as_str())]
    NotInactive(FlowStatus),
    /// Validation failed; every problem is listed.
    #[error("invalid flow")]
    Invalid(Fault),
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// Another change to the same flow kept coming first.
    #[error("Flow was changed by another request. Try again.")]
    Conflict,
    /// The caller may not set this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The caller's token was not accepted.
    #[error(transparent)]
    Unauthenticated(#[from] flowmate_auth::AuthError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An unexpected failure.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<FlowError> for Fault {
    fn from(e: FlowError) -> Fault {
        match e {
            FlowError::InvalidId => Fault::new(ErrorCode::InvalidArgument, e.to_string()),
            FlowError::NotFound | FlowError::NoFlowWithId => Fault::new(ErrorCode::NotFound, e.to_string()),
            FlowError::NotInactive(_) | FlowError::Conflict => {
                Fault::new(ErrorCode::FailedPrecondition, e.to_string())
            }
            FlowError::Invalid(fault) => fault,
            FlowError::MissingPermission | FlowError::Forbidden(_) => {
                Fault::new(ErrorCode::Forbidden, e.to_string())
            }
            FlowError::Unauthenticated(a) => a.into(),
            FlowError::Store(err) => {
                tracing::error!(error = %err, "flow store failed");
                Fault::internal()
            }
            FlowError::Internal(err) => {
                tracing::error!(error = %err, "flow repository failed");
                Fault::internal()
            }
        }
    }
}

/// Shorthand for flow results.
pub type Result<T, E = FlowError> = std::result::Result<T, E>;
