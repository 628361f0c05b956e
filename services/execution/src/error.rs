//! The execution service's errors and how they render.

use flowmate_domain::{ErrorCode, Fault};
use flowmate_store::StoreError;

use crate::model::Status;

/// Everything an execution operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// A malformed execution or flow id.
    #[error("Invalid id")]
    InvalidId,
    /// A retry's `from` is neither `start` nor `failed`.
    #[error("from must be \"start\" or \"failed\"")]
    InvalidRetryFrom,
    /// Absent or outside the caller's scope.
    #[error("No execution found")]
    NotFound,
    /// The flow to run is not active (or not visible).
    #[error("Flow {flow_id} either does not exist or is inactive.")]
    FlowNotActive {
        /// The flow.
        flow_id: String,
    },
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// A resume call's token is not the node's.
    #[error("Invalid resume token")]
    BadResumeToken,
    /// A resume call names a node that is no `wait.event` of the execution.
    #[error("No wait.event node {0} in this execution")]
    NoWaitNode(String),
    /// The tenant's quota allows no more now (API.md §12).
    #[error("{reason}")]
    QuotaExceeded {
        /// Which limit, for people.
        reason: String,
        /// Seconds until it may succeed.
        retry_after: u64,
    },
    /// The operation does not fit the execution's state.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The caller's token was not accepted.
    #[error(transparent)]
    Unauthenticated(#[from] flowmate_auth::AuthError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The code sandbox failed (it could not check a code step).
    #[error("code sandbox: {0}")]
    Sandbox(String),
    /// A message could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// A service this one needs did not answer (the work is retried).
    #[error("the {service} service is unavailable: {cause}")]
    Unavailable {
        /// Which service.
        service: &'static str,
        /// What the call said.
        cause: String,
    },
}

/// Why an operation does not fit an execution's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// Cancelling an execution that is over.
    #[error("Execution is already {}.", .0.as_str())]
    AlreadyFinal(Status),
    /// Cancelling an execution that finished while the cancel was on its way.
    #[error("Execution has already finished.")]
    FinishedMeanwhile,
    /// Resuming an execution that is over.
    #[error("Execution is {}: it no longer waits.", .0.as_str())]
    NotWaiting(Status),
    /// A resume token used a second time.
    #[error("This resume token was used already.")]
    ResumedAlready,
    /// Retrying an execution that has not finished.
    #[error("Execution is still running.")]
    StillRunning,
    /// Retrying from the failed steps of an execution that did not fail.
    #[error("Only a failed execution can be retried from its failed steps.")]
    NotFailed,
    /// Retrying from the failed steps of an execution that failed on an edge.
    #[error(
        "This execution has no failed step to run again (it failed on an edge); retry it from the start."
    )]
    NoFailedStep,
}

impl From<sqlx::Error> for ExecutionError {
    fn from(e: sqlx::Error) -> Self {
        ExecutionError::Store(StoreError::from(e))
    }
}

impl From<ExecutionError> for Fault {
    fn from(e: ExecutionError) -> Fault {
        match e {
            ExecutionError::InvalidId | ExecutionError::InvalidRetryFrom => {
                Fault::new(ErrorCode::InvalidArgument, e.to_string())
            }
            ExecutionError::NotFound
            | ExecutionError::FlowNotActive { .. }
            | ExecutionError::NoWaitNode(_) => Fault::new(ErrorCode::NotFound, e.to_string()),
            ExecutionError::MissingPermission | ExecutionError::BadResumeToken => {
                Fault::new(ErrorCode::Forbidden, e.to_string())
            }
            ExecutionError::Conflict(_) => Fault::new(ErrorCode::FailedPrecondition, e.to_string()),
            ExecutionError::QuotaExceeded { reason, retry_after } => Fault {
                retry_after: Some(retry_after),
                ..Fault::new(ErrorCode::TooManyRequests, reason)
            },
            ExecutionError::Unauthenticated(a) => a.into(),
            ExecutionError::Store(err) => {
                tracing::error!(error = %err, "execution store failed");
                Fault::internal()
            }
            ExecutionError::Sandbox(err) => {
                tracing::error!(error = %err, "the code sandbox failed");
                Fault::internal()
            }
            ExecutionError::Encode(err) => {
                tracing::error!(error = %err, "execution service could not encode a message");
                Fault::internal()
            }
            ExecutionError::Unavailable { .. } => {
                tracing::warn!(error = %e, "a dependency is unavailable");
                Fault::new(ErrorCode::Unavailable, "service unavailable")
            }
        }
    }
}

/// Shorthand for execution results.
pub type Result<T, E = ExecutionError> = std::result::Result<T, E>;
