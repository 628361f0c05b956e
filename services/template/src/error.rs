//! The template service's errors and how they render (API.md §4 messages).

use flowmate_domain::{ErrorCode, Fault};
use flowmate_store::StoreError;

/// Everything a template operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A malformed id.
    #[error("Invalid id")]
    InvalidId,
    /// Absent or outside the caller's scope.
    #[error("Template not found")]
    NotFound,
    /// Validation failed; every problem is listed.
    #[error("invalid template")]
    Invalid(Fault),
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// The caller may not set this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Another change to the same template kept coming first.
    #[error("Template was changed by another request. Try again.")]
    Conflict,
    /// The flow repository refused or failed the generated flow; its fault passes through unchanged.
    #[error("flow repository: {}", .0.message())]
    Flows(Fault),
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

impl From<TemplateError> for Fault {
    fn from(e: TemplateError) -> Fault {
        match e {
            TemplateError::InvalidId => Fault::new(ErrorCode::InvalidArgument, e.to_string()),
            TemplateError::NotFound => Fault::new(ErrorCode::NotFound, e.to_string()),
            TemplateError::Invalid(fault) | TemplateError::Flows(fault) => fault,
            TemplateError::MissingPermission | TemplateError::Forbidden(_) => {
                Fault::new(ErrorCode::Forbidden, e.to_string())
            }
            TemplateError::Conflict => Fault::new(ErrorCode::FailedPrecondition, e.to_string()),
            TemplateError::Unauthenticated(a) => a.into(),
            TemplateError::Store(err) => {
                tracing::error!(error = %err, "template store failed");
                Fault::internal()
            }
            TemplateError::Internal(err) => {
                tracing::error!(error = %err, "template service failed");
                Fault::internal()
            }
        }
    }
}

/// Shorthand for template results.
pub type Result<T, E = TemplateError> = std::result::Result<T, E>;
