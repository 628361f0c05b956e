//! The secret context's rules, over the [`crate::model::SecretStore`] port: secrets, auth clients and the consent
//! round trip, and what steps get (start-time checks, values, token refreshes).

mod clients;
mod resolve;
mod secrets;

pub use clients::{sha256_hex, STATE_LIFETIME};
pub use resolve::{Resolved, Use, EXPIRY_SKEW, FAILURE_HOLD};
pub use secrets::{SecretCore, SOURCE};
