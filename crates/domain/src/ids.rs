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

    /// Validates an id from a client as API.md §1 defines a well-formed one: a UUID (`8-4-4-4-12` hex digits, as
    /// new ids are) or 24 hex digits (an id brought over from OIH). Anything else is `400 Invalid id`.
    pub fn parse_public(s: &str) -> Result<Self, InvalidId> {
        if is_well_formed(s) {
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

/// Whether `s` is a UUID in its hyphenated form or 24 hex digits (an OIH ObjectId).
pub fn is_well_formed(s: &str) -> bool {
    let hex = |part: &str| part.bytes().all(|b| b.is_ascii_hexdigit());
    if s.len() == 24 {
        return hex(s);
    }
    let parts: Vec<&str> = s.split('-').collect();
    s.len() == 36 && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p))
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

/// Declares a typed id: a well-formed [`Id`] that says what it identifies, so a flow id cannot be passed where an
/// execution id is expected. It reads as `&str` (`Deref`), compares with strings, and (de)serializes as one.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh time-ordered id (UUIDv7).
            pub fn new() -> Self {
                $name(Id::new().into_string())
            }

            /// Validates `s` as an id.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                Id::parse(s).map(|id| $name(id.into_string()))
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

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        /// Text that is already known to be an id (read from the service's own records); ids from outside go
        /// through [`parse`](Self::parse).
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

typed_id!(
    /// A flow's id.
    FlowId
);
typed_id!(
    /// An execution's id (the request id of the trigger that started it).
    ExecutionId
);
typed_id!(
    /// A template's id.
    TemplateId
);
typed_id!(
    /// A tenant's id.
    TenantId
);
typed_id!(
    /// A user's id.
    UserId
);

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

    #[test]
    fn public_ids_are_uuids_or_24_hex_digits() {
        assert!(Id::parse_public(Id::new().as_str()).is_ok());
        assert!(Id::parse_public("5f1e3c2b9d8a7f6e5d4c3b2a").is_ok());
        assert!(Id::parse_public("5F1E3C2B9D8A7F6E5D4C3B2A").is_ok());
        for bad in [
            "SDSADGSDGH",
            "null",
            "5f1e3c2b9d8a7f6e5d4c3b2",
            "5f1e3c2b9d8a7f6e5d4c3b2g",
            "flow-1",
            "0192f0a4-7c1e-7d3e-9a4b-1c2d3e4f5a6",
            "0192f0a47c1e7d3e9a4b1c2d3e4f5a6b",
            "",
        ] {
            assert_eq!(Id::parse_public(bad), Err(InvalidId), "{bad:?}");
        }
    }

    #[test]
    fn typed_ids_read_and_compare_as_text_and_serialize_as_strings() {
        let flow = FlowId::new();
        assert!(FlowId::parse(flow.as_str()).is_ok());
        assert_eq!(FlowId::parse("a b"), Err(InvalidId));
        let same = FlowId::from(flow.to_string());
        assert_eq!(flow, same);
        assert_eq!(flow, flow.as_str());
        assert_eq!(
            serde_json::to_value(&flow).unwrap(),
            serde_json::json!(flow.as_str())
        );
        let back: FlowId = serde_json::from_value(serde_json::json!(flow.as_str())).unwrap();
        assert_eq!(back, flow);
        assert!(flow.starts_with(&flow[..4]), "derefs to str");
    }
}
