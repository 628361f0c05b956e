//! Secrets at rest (ARCHITECTURE.md "Secrets at rest"): AES-256-GCM with a key from configuration. A sealed value
//! is text, `enc:v1:<base64(nonce ‖ ciphertext ‖ tag)>`, so it can live inside a JSON document (a flow's
//! `flowSettings.webhooks.hmacSecret`) and travel in events, useless to anyone without the key. APIs show
//! [`MASK`] in its place.

use std::path::Path;

use base64::{engine::general_purpose::STANDARD, Engine};
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};

/// What APIs return instead of a write-only secret.
pub const MASK: &str = "***";

const PREFIX: &str = "enc:v1:";

/// A secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The configured key is not 32 bytes of base64.
    #[error("the secrets key must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")]
    BadKey,
    /// The value is not sealed, was sealed with another key, or was tampered with.
    #[error("the secret cannot be decrypted with the configured key")]
    CannotOpen,
    /// The key file could not be read or written.
    #[error("secrets key file: {0}")]
    Io(String),
}

/// Seals and opens secrets with one key.
pub struct SecretBox {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box for the base64-encoded 32-byte `key`.
    pub fn from_base64(key: &str) -> Result<SecretBox, SecretError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SecretError::BadKey)?;
        Ok(SecretBox {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// The key in `path`, created (32 random bytes, owner-only permissions) when the file does not exist yet.
    /// Standalone installations keep it beside their data.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, SecretError> {
        SecretBox::from_base64(&key_file(path)?)
    }

    /// Encrypts `plaintext` with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SecretError::Io("no randomness".into()))?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| SecretError::CannotOpen)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value made by [`SecretBox::seal`].
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or(SecretError::CannotOpen)?;
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::CannotOpen)?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| SecretError::CannotOpen)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::CannotOpen)
    }
}

/// The base64 key stored in `path`, written first (32 random bytes, owner-only permissions) when the file does not
/// exist. Two services of one process racing to create it end up with the same key.
pub fn key_file(path: &Path) -> Result<String, SecretError> {
    let io = |e: std::io::Error| SecretError::Io(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| SecretError::Io("no randomness".into()))?;
            let text = STANDARD.encode(bytes);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
                    Ok(text)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(std::fs::read_to_string(path).map_err(io)?.trim().to_owned())
                }
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// Whether `value` is a sealed secret.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let b = SecretBox::from_base64(KEY).unwrap();
        let sealed = b.seal("hmac-secret").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hmac-secret"));
        assert_ne!(sealed, b.seal("hmac-secret").unwrap(), "a fresh nonce every time");
        assert_eq!(b.open(&sealed).unwrap(), "hmac-secret");
        let other = SecretBox::from_base64("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=").unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::CannotOpen));
        let mut tampered = sealed.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('A') { 'B' } else { 'A' });
        assert_eq!(b.open(&tampered), Err(SecretError::CannotOpen));
        assert_eq!(SecretBox::from_base64("short").unwrap_err(), SecretError::BadKey);
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("flowmate-secrets-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secrets.key");
        let a = SecretBox::load_or_create(&path).unwrap();
        let b = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(b.open(&a.seal("x").unwrap()).unwrap(), "x");
        let _ = std::fs::remove_dir_all(dir);
    }
}
