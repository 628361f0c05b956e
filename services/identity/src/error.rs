//! The identity service's errors and how they render (OIH machine codes as messages).

use flowmate_auth::AuthError;
use flowmate_domain::{ErrorCode, Fault, Problem};
use flowmate_store::StoreError;

/// Everything an identity operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong password.
    #[error("PASSWORD_INCORRECT")]
    PasswordIncorrect,
    /// Login with a username nobody has (401).
    #[error("USER_NOT_FOUND")]
    UnknownLogin,
    /// No such user, or one outside the caller's tenant (404).
    #[error("USER_NOT_FOUND")]
    UserNotFound,
    /// The account is not active.
    #[error("ENTITY_DISABLED")]
    EntityDisabled,
    /// Too many failed logins; locked for `retry_after` seconds.
    #[error("TOO_MANY_LOGIN_ATTEMPTS")]
    TooManyAttempts {
        /// Seconds until the lock ends.
        retry_after: u64,
    },
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// The caller may not do this to this object (restricted role, permission or tenant; acting on itself).
    #[error("FORBIDDEN: {0}")]
    Forbidden(&'static str),
    /// A unique name is taken.
    #[error("DUPLICATE_KEY")]
    DuplicateKey,
    /// Fields failed validation.
    #[error("INPUT_INVALID")]
    InputInvalid(Vec<Problem>),
    /// Another change to the same object kept coming first.
    #[error("the user was changed by another request; try again")]
    Conflict,
    /// A referenced tenant or role does not exist.
    #[error("{kind} not found")]
    NotFound {
        /// `tenant` or `role`.
        kind: &'static str,
    },
    /// The caller's token was not accepted.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// An unexpected failure (hashing, key handling).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UniqueViolation => IdentityError::DuplicateKey,
            other => IdentityError::Store(other),
        }
    }
}

impl IdentityError {
    /// Turns a domain validation fault into `INPUT_INVALID`, keeping each field and its explanation.
    pub fn input_invalid(fault: Fault) -> IdentityError {
        IdentityError::InputInvalid(
            fault
                .problems
                .into_iter()
                .map(|p| Problem {
                    message: "INPUT_INVALID".into(),
                    field: p.field,
                    detail: Some(p.message),
                })
                .collect(),
        )
    }

    /// One invalid field.
    pub fn invalid_field(field: &str, detail: &str) -> IdentityError {
        IdentityError::InputInvalid(vec![input_problem(field, detail)])
    }
}

/// An `INPUT_INVALID` problem for one field.
pub fn input_problem(field: &str, detail: &str) -> Problem {
    Problem {
        message: "INPUT_INVALID".into(),
        field: Some(field.into()),
        detail: Some(detail.into()),
    }
}

impl From<IdentityError> for Fault {
    fn from(e: IdentityError) -> Fault {
        use IdentityError::*;
        match e {
            PasswordIncorrect | UnknownLogin | EntityDisabled => {
                Fault::new(ErrorCode::Unauthenticated, e.to_string())
            }
            UserNotFound => Fault::new(ErrorCode::NotFound, "USER_NOT_FOUND"),
            TooManyAttempts { retry_after } => Fault {
                retry_after: Some(retry_after),
                ..Fault::new(ErrorCode::TooManyRequests, "TOO_MANY_LOGIN_ATTEMPTS")
            },
            MissingPermission => Fault::new(ErrorCode::Forbidden, "MISSING_PERMISSION"),
            Forbidden(why) => Fault {
                problems: vec![Problem {
                    message: "FORBIDDEN".into(),
                    field: None,
                    detail: Some(why.into()),
                }],
                ..Fault::new(ErrorCode::Forbidden, "FORBIDDEN")
            },
            DuplicateKey => Fault::new(ErrorCode::AlreadyExists, "DUPLICATE_KEY"),
            Conflict => Fault::new(ErrorCode::FailedPrecondition, "CONFLICT"),
            InputInvalid(problems) => Fault::invalid(problems),
            NotFound { kind } => Fault::new(ErrorCode::NotFound, format!("{kind} not found")),
            Unauthenticated(a) => a.into(),
            Store(err) => {
                tracing::error!(error = %err, "identity store failed");
                Fault::internal()
            }
            Internal(err) => {
                tracing::error!(error = %err, "identity failed");
                Fault::internal()
            }
        }
    }
}

/// Shorthand for identity results.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
