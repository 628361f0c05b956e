//! Secrets at rest (ARCHITECTURE.md "Secrets at rest"): AES-256-GCM under a keyring from configuration. A sealed
//! value is text, `enc:v2:<kid>:<base64(nonce ‖ ciphertext ‖ tag)>`, so it can live inside a JSON document (a
//! flow's `flowSettings.webhooks.hmacSecret`, a credential in the secret service) and travel in events, useless to
//! anyone without the key. The first key of the ring seals; every key opens, chosen by the value's key id, so a key
//! can be rotated: add the new key first, re-seal (`flowmate secrets rotate`), then drop the old one. Values of the
//! first format, `enc:v1:<base64>` (no key id), still open with whichever key of the ring opens them. APIs show
//! [`MASK`] in place of a secret.

use std::path::Path;

use base64::{engine::general_purpose::STANDARD, Engine};
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    digest,
    rand::{SecureRandom, SystemRandom},
};

/// What APIs return instead of a write-only secret.
pub const MASK: &str = "***";

const V1: &str = "enc:v1:";
const V2: &str = "enc:v2:";
/// The longest key id accepted (they are written into every sealed value).
const MAX_KID: usize = 32;

/// A secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A configured key is not 32 bytes of base64, or its id is not `[A-Za-z0-9_-]{1,32}`.
    #[error("the secrets key must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`), optionally preceded by `<key id>:` (letters, digits, _ and -, at most 32)")]
    BadKey,
    /// Two keys of the ring have the same id.
    #[error("the secrets keys have the key id {0:?} twice")]
    DuplicateKid(String),
    /// The value is not sealed, was sealed with a key the ring does not hold, or was tampered with.
    #[error("the secret cannot be decrypted with the configured keys")]
    CannotOpen,
    /// The key file could not be read or written.
    #[error("secrets key file: {0}")]
    Io(String),
}

struct Key {
    kid: String,
    key: LessSafeKey,
}

/// Seals with the first key of a ring and opens with any of them.
pub struct SecretBox {
    keys: Vec<Key>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(f, "SecretBox(kids: {kids:?})")
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The id of a key configured without one: `k` and the first 8 hex digits of the SHA-256 of its bytes, so the
/// same key always gets the same id.
fn derived_kid(bytes: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, bytes);
    let hex: String = hash.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("k{hex}")
}

fn parse_key(entry: &str) -> Result<Key, SecretError> {
    let entry = entry.trim();
    // Standard base64 never contains ':', so `kid:key` and a bare key cannot be confused.
    let (kid, b64) = match entry.split_once(':') {
        Some((kid, b64)) => (Some(kid.trim()), b64.trim()),
        None => (None, entry),
    };
    let bytes = STANDARD.decode(b64).map_err(|_| SecretError::BadKey)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SecretError::BadKey)?;
    let kid = match kid {
        Some(k) if valid_kid(k) => k.to_owned(),
        Some(_) => return Err(SecretError::BadKey),
        None => derived_kid(&bytes),
    };
    Ok(Key {
        kid,
        key: LessSafeKey::new(unbound),
    })
}

impl SecretBox {
    /// A box for the base64-encoded 32-byte `key` (its id is derived from the key).
    pub fn from_base64(key: &str) -> Result<SecretBox, SecretError> {
        SecretBox::from_keys(key)
    }

    /// A ring from `FLOWMATE_SECRETS_KEYS`-style text: comma-separated entries, each `kid:base64` or a bare
    /// base64 key (id derived from the key). The first seals; all open. A single bare key is what
    /// `FLOWMATE_SECRETS_KEY` holds, so both settings parse here.
    pub fn from_keys(text: &str) -> Result<SecretBox, SecretError> {
        let mut keys: Vec<Key> = Vec::new();
        for entry in text.split(',').filter(|e| !e.trim().is_empty()) {
            let key = parse_key(entry)?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(SecretError::DuplicateKid(key.kid));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(SecretError::BadKey);
        }
        Ok(SecretBox {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// The key in `path`, created (32 random bytes, owner-only permissions) when the file does not exist yet.
    /// Standalone installations keep it beside their data.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, SecretError> {
        SecretBox::from_keys(&key_file(path)?)
    }

    /// The id of the key that seals.
    pub fn primary_kid(&self) -> &str {
        self.keys.first().map(|k| k.kid.as_str()).unwrap_or_default()
    }

    /// The ids of every key, sealing key first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// Encrypts `plaintext` with the first key and a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let key = self.keys.first().ok_or(SecretError::BadKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SecretError::Io("no randomness".into()))?;
        let mut data = plaintext.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| SecretError::CannotOpen)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{V2}{}:{}", key.kid, STANDARD.encode(out)))
    }

    /// Decrypts a value made by [`SecretBox::seal`] (either format).
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let (kid, body) = match sealed.strip_prefix(V2) {
            Some(rest) => {
                let (kid, body) = rest.split_once(':').ok_or(SecretError::CannotOpen)?;
                (Some(kid), body)
            }
            None => (None, sealed.strip_prefix(V1).ok_or(SecretError::CannotOpen)?),
        };
        if let Some(key) = kid.and_then(|kid| self.keys.iter().find(|k| k.kid == kid)) {
            return open_with(&key.key, body);
        }
        // No key id, or one the ring does not use (a key configured again under another id): whichever key
        // authenticates it (AES-GCM's tag tells the right key from a wrong one).
        self.keys
            .iter()
            .find_map(|k| open_with(&k.key, body).ok())
            .ok_or(SecretError::CannotOpen)
    }

    /// The id of the key `sealed` names (`None` for the first format, which names none).
    pub fn kid_of(sealed: &str) -> Option<&str> {
        sealed.strip_prefix(V2)?.split_once(':').map(|(kid, _)| kid)
    }

    /// Whether `sealed` should be sealed again: it is of the first format or names a key other than the first.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        SecretBox::kid_of(sealed) != Some(self.primary_kid())
    }

    /// `sealed` opened and sealed again with the first key.
    pub fn reseal(&self, sealed: &str) -> Result<String, SecretError> {
        self.seal(&self.open(sealed)?)
    }
}

fn open_with(key: &LessSafeKey, body: &str) -> Result<String, SecretError> {
    let raw = STANDARD
        .decode(body)
        .ok()
        .filter(|r| r.len() > NONCE_LEN)
        .ok_or(SecretError::CannotOpen)?;
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::CannotOpen)?;
    let mut data = rest.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::empty(), &mut data)
        .map_err(|_| SecretError::CannotOpen)?;
    String::from_utf8(plain.to_vec()).map_err(|_| SecretError::CannotOpen)
}

/// The keyring text of a configuration: `FLOWMATE_SECRETS_KEYS` when set, else `FLOWMATE_SECRETS_KEY`, else (for
/// standalone installations) the key file under the data directory, created on first use.
pub fn keyring_text(keys: Option<&str>, key: Option<&str>, key_path: &Path) -> Result<String, SecretError> {
    match (
        keys.filter(|k| !k.trim().is_empty()),
        key.filter(|k| !k.trim().is_empty()),
    ) {
        (Some(keys), _) => Ok(keys.to_owned()),
        (None, Some(key)) => Ok(key.to_owned()),
        (None, None) => key_file(key_path),
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

/// Whether `value` is a sealed secret (either format).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(V2) || value.starts_with(V1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    /// A value in the first format, as a FlowMate before key ids sealed it with `KEY`.
    fn v1_sealed(key: &str, plaintext: &str) -> String {
        let bytes = STANDARD.decode(key).unwrap();
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).unwrap());
        let nonce = [7u8; NONCE_LEN];
        let mut data = plaintext.as_bytes().to_vec();
        k.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .unwrap();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{V1}{}", STANDARD.encode(out))
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let b = SecretBox::from_base64(KEY).unwrap();
        let sealed = b.seal("hmac-secret").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hmac-secret"));
        assert!(sealed.starts_with(&format!("enc:v2:{}:", b.primary_kid())));
        assert_ne!(sealed, b.seal("hmac-secret").unwrap(), "a fresh nonce every time");
        assert_eq!(b.open(&sealed).unwrap(), "hmac-secret");
        let other = SecretBox::from_base64(OTHER).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::CannotOpen));
        let mut tampered = sealed.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('A') { 'B' } else { 'A' });
        assert_eq!(b.open(&tampered), Err(SecretError::CannotOpen));
        assert_eq!(SecretBox::from_base64("short").unwrap_err(), SecretError::BadKey);
    }

    #[test]
    fn a_ring_seals_with_its_first_key_and_opens_with_every_key() {
        let old = SecretBox::from_keys(&format!("old:{KEY}")).unwrap();
        let sealed_old = old.seal("v").unwrap();
        assert!(sealed_old.starts_with("enc:v2:old:"));
        let ring = SecretBox::from_keys(&format!("new:{OTHER}, old:{KEY}")).unwrap();
        assert_eq!(ring.primary_kid(), "new");
        assert_eq!(ring.kids(), vec!["new", "old"]);
        assert_eq!(ring.open(&sealed_old).unwrap(), "v");
        assert!(ring.needs_reseal(&sealed_old));
        let resealed = ring.reseal(&sealed_old).unwrap();
        assert!(resealed.starts_with("enc:v2:new:"));
        assert!(!ring.needs_reseal(&resealed));
        assert_eq!(
            old.open(&resealed),
            Err(SecretError::CannotOpen),
            "the old key alone cannot open it"
        );
    }

    #[test]
    fn values_of_the_first_format_open_with_any_key_of_the_ring_and_need_resealing() {
        let sealed = v1_sealed(KEY, "legacy");
        let ring = SecretBox::from_keys(&format!("new:{OTHER},{KEY}")).unwrap();
        assert_eq!(ring.open(&sealed).unwrap(), "legacy");
        assert!(ring.needs_reseal(&sealed));
        assert!(is_sealed(&sealed));
        let single = SecretBox::from_base64(OTHER).unwrap();
        assert_eq!(single.open(&sealed), Err(SecretError::CannotOpen));
    }

    #[test]
    fn bad_rings_are_refused() {
        assert_eq!(SecretBox::from_keys("").unwrap_err(), SecretError::BadKey);
        assert_eq!(
            SecretBox::from_keys(&format!("a:{KEY},a:{OTHER}")).unwrap_err(),
            SecretError::DuplicateKid("a".into())
        );
        assert_eq!(
            SecretBox::from_keys(&format!("bad kid:{KEY}")).unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretBox::from_keys(&format!("{KEY},{KEY}")).unwrap_err(),
            SecretError::DuplicateKid(SecretBox::from_base64(KEY).unwrap().primary_kid().to_owned())
        );
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("flowmate-secrets-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secrets.key");
        let a = SecretBox::load_or_create(&path).unwrap();
        let b = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(b.open(&a.seal("x").unwrap()).unwrap(), "x");
        assert_eq!(keyring_text(None, None, &path).unwrap(), key_file(&path).unwrap());
        assert_eq!(keyring_text(Some("a:b"), Some("c"), &path).unwrap(), "a:b");
        assert_eq!(keyring_text(Some(" "), Some("c"), &path).unwrap(), "c");
        let _ = std::fs::remove_dir_all(dir);
    }
}
