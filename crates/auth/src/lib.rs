//! Authentication and authorization shared by every service: JWT signing (identity only) and local verification
//! (everyone) with EdDSA keys, the request principal, permission checks and the revocation list that makes logout
//! and disabling a user take effect at once.

mod keys;
mod principal;
mod revocation;
pub mod secrets;
pub mod sync;

pub use keys::{PublicKey, Signer, Verifier, ALGORITHM};
pub use principal::{Claims, Principal};
pub use revocation::RevocationList;

/// Why a token was not accepted. Both render as 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("Missing authorization header.")]
    Missing,
    /// Malformed, forged, expired or revoked.
    #[error("Token invalid.")]
    Invalid,
}

impl From<AuthError> for flowmate_domain::Fault {
    fn from(e: AuthError) -> Self {
        flowmate_domain::Fault::new(flowmate_domain::ErrorCode::Unauthenticated, e.to_string())
    }
}

/// Extracts the token from an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(token.trim())
}

/// Verifies the bearer token in a gRPC request's `authorization` metadata.
pub fn authenticate<T>(verifier: &Verifier, request: &tonic::Request<T>) -> Result<Principal, AuthError> {
    let header = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    verifier.verify(bearer_token(header)?)
}
