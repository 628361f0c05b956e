//! Argon2id password hashing, off the async runtime (it is deliberately slow).

use std::sync::OnceLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use rand::{distributions::Alphanumeric, Rng};

use crate::error::{IdentityError, Result};

/// Hashes a password (Argon2id, the crate's OWASP-recommended defaults) into a PHC string.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Internal(e.to_string()));
    // Argon2 worked in 19 MiB that this blocking thread may keep until it exits.
    flowmate_telemetry::memory::release_freed_memory();
    hashed
}

/// Checks a password against a PHC string. With `None` (unknown user) it checks against a fixed dummy hash, so
/// the answer takes as long whether or not the user exists.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let real = phc.is_some();
        let phc = match phc {
            Some(p) => p,
            None => dummy_hash()?,
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| IdentityError::Internal(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        flowmate_telemetry::memory::release_freed_memory();
        Ok(matches && real)
    })
    .await
    .map_err(|e| IdentityError::Internal(e.to_string()))?
}

static DUMMY: OnceLock<String> = OnceLock::new();

fn dummy_hash() -> Result<String> {
    if let Some(d) = DUMMY.get() {
        return Ok(d.clone());
    }
    let h = hash_blocking("flowmate-timing-equaliser")?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

/// A random password for the first admin when none is configured (24 alphanumerics, ~143 bits).
pub fn generate() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
