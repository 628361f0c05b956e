//! The secret service's errors and how they render (API.md §9).

use flowmate_domain::{ErrorCode, Fault};
use flowmate_store::StoreError;

/// What went wrong with the consent round trip's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// No consent was started with it (forged, or from another installation).
    Unknown,
    /// It was used already.
    Used,
    /// It is older than its lifetime.
    Expired,
}

/// Everything a secret operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A malformed id.
    #[error("Invalid id")]
    InvalidId,
    /// No such secret in the caller's scope.
    #[error("No secret found")]
    SecretNotFound,
    /// No such auth client in the caller's scope.
    #[error("No auth client found")]
    AuthClientNotFound,
    /// Validation failed; every problem is listed.
    #[error("invalid input")]
    Invalid(Fault),
    /// The caller lacks the permission.
    #[error("MISSING_PERMISSION")]
    MissingPermission,
    /// Started flows use the secret (delete without `force`).
    #[error("Secret is used by active flows: {flows}. Stop them first, or delete with ?force=true.")]
    InUse {
        /// The flows using it, comma-separated.
        flows: String,
    },
    /// Secrets were made from the auth client (delete without `force`).
    #[error("Auth client is used by secrets: {secrets}. Delete them first, or delete with ?force=true.")]
    ClientInUse {
        /// The secrets, comma-separated.
        secrets: String,
    },
    /// Another change to the same object kept coming first.
    #[error("The secret was changed by another request. Try again.")]
    Conflict,
    /// The consent `state` was not accepted.
    #[error("{}", match .0 {
        StateProblem::Unknown => "OAuth state is not valid",
        StateProblem::Used => "OAuth state was already used",
        StateProblem::Expired => "OAuth state has expired; start the consent again",
    })]
    State(StateProblem),
    /// The provider answered the consent with an error (the user declined, …).
    #[error("the provider refused the consent: {0}")]
    ConsentRefused(String),
    /// A token endpoint call failed; the text names the cause and never a secret.
    #[error("credential refresh failed: {0}")]
    RefreshFailed(String),
    /// Exchanging the consent's code failed; the text names the cause and never a secret.
    #[error("token exchange failed: {0}")]
    ExchangeFailed(String),
    /// An internal call without the service credential.
    #[error("this call needs the service credential")]
    ServiceCredential,
    /// The caller's token was not accepted.
    #[error(transparent)]
    Unauthenticated(#[from] flowmate_auth::AuthError),
    /// A stored value cannot be opened with the configured keys.
    #[error("a stored value cannot be opened: {0}")]
    Sealing(#[from] flowmate_auth::secrets::SecretError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An unexpected failure.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<SecretError> for Fault {
    fn from(e: SecretError) -> Fault {
        let code = match &e {
            SecretError::Invalid(fault) => return fault.clone(),
            SecretError::Unauthenticated(a) => return a.clone().into(),
            SecretError::InvalidId | SecretError::ConsentRefused(_) | SecretError::ExchangeFailed(_) => {
                ErrorCode::InvalidArgument
            }
            SecretError::SecretNotFound | SecretError::AuthClientNotFound => ErrorCode::NotFound,
            SecretError::MissingPermission | SecretError::State(_) | SecretError::ServiceCredential => {
                ErrorCode::Forbidden
            }
            SecretError::InUse { .. }
            | SecretError::ClientInUse { .. }
            | SecretError::Conflict
            | SecretError::RefreshFailed(_) => ErrorCode::FailedPrecondition,
            SecretError::Sealing(err) => {
                tracing::error!(error = %err, "a stored secret cannot be opened (are the secrets keys right?)");
                return Fault::internal();
            }
            SecretError::Store(err) => {
                tracing::error!(error = %err, "secret store failed");
                return Fault::internal();
            }
            SecretError::Internal(err) => {
                tracing::error!(error = %err, "secret service failed");
                return Fault::internal();
            }
        };
        Fault::new(code, e.to_string())
    }
}

/// Shorthand for secret results.
pub type Result<T, E = SecretError> = std::result::Result<T, E>;
