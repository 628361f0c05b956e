//! `Debug` for the messages that carry credentials in clear (listed in `build.rs`): the fields that may hold a
//! secret print as `"***"`, so a `{:?}` in a log line can never leak one.

use std::fmt;

use crate::secrets::v1::{CompleteConsentRequest, ResolvedCredential, WriteRequest};

const MASK: &str = "***";

impl fmt::Debug for WriteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteRequest")
            .field("id", &self.id)
            .field("json", &MASK)
            .finish()
    }
}

impl fmt::Debug for CompleteConsentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteConsentRequest")
            .field("state", &MASK)
            .field("code", &MASK)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("type", &self.r#type)
            .field("value_json", &MASK)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("version", &self.version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carrying_values_never_print_them() {
        let w = WriteRequest {
            id: "x".into(),
            json: r#"{"value":{"key":"sk-live-123"}}"#.into(),
        };
        let r = ResolvedCredential {
            r#type: "API_KEY".into(),
            value_json: r#"{"key":"sk-live-123"}"#.into(),
            expires_at_ms: 0,
            version: 1,
        };
        let c = CompleteConsentRequest {
            state: "st-123".into(),
            code: "code-123".into(),
            error: String::new(),
        };
        for text in [format!("{w:?}"), format!("{r:?}"), format!("{c:?}")] {
            assert!(!text.contains("123"), "{text}");
        }
    }
}
