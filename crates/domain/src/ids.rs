//! Opaque ids. New ids are UUIDv7 (time-ordered); a path id that is not well formed is rejected early.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The error for a malformed id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid id")]
pub struct InvalidId;

/// An opaque, well-formed id: 1 to 64 characters of `[A-Za-z0-9_-]`. New ids are UUIDv7.
///
/// Existing OIH ids (24-hex Mongo ObjectIds) are well formed too, so migrated data keeps its ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// A fresh time-ordered id.
    pub fn new() -> Self {
        Id(uuid::Uuid::now_v7().to_string())
    }

    /// Validates a string as an id.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Id(s.to_owned()))
        } else {
            Err(InvalidId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the id into its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Default for Id {
    fn default() -> Self {
        Id::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_valid_and_time_ordered() {
        let a = Id::new();
        let b = Id::new();
        assert!(Id::parse(a.as_str()).is_ok());
        assert!(a < b);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in ["", "a b", "../etc", "x".repeat(65).as_str(), "ü"] {
            assert_eq!(Id::parse(bad), Err(InvalidId), "{bad:?}");
        }
        assert!(Id::parse("5f1e3c2b9d8a7f6e5d4c3b2a").is_ok());
    }
}
