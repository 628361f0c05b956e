//! `flowSettings.webhooks` (API.md §5) as one type: flow-repository checks a saved flow's settings read as it
//! (after its field-by-field checks, which give the documented messages), and the webhook service reads them with
//! it. Every field is optional with a documented default; fields FlowMate does not know are kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `hmacAlgorithm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// HMAC-SHA256 (the default).
    #[default]
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// `responseMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseMode {
    /// `200` once the trigger is queued (the default).
    #[default]
    Async,
    /// The execution's result.
    Sync,
}

/// `rateLimit`: a token bucket per flow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Refill per second (> 0).
    pub per_second: f64,
    /// Capacity (default: `perSecond` rounded up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// `flowSettings.webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSettings {
    /// Callers must authenticate (a bearer token of the flow's owners, or the HMAC signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_webhook_auth: Option<bool>,
    /// The HMAC secret, sealed (write-only through the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<String>,
    /// The signature's header (default `x-hmac`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_header_key: Option<String>,
    /// The signature's algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_algorithm: Option<HmacAlgorithm>,
    /// Any user of the flow's tenant with `webhooks.execute` may call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_tenant_users: Option<bool>,
    /// How the caller is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<ResponseMode>,
    /// How long a sync caller waits (1 to 55,000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_timeout_ms: Option<u64>,
    /// The flow's rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Fields FlowMate does not know, kept as the client stored them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WebhookSettings {
    /// The webhook settings in a flow's `flowSettings` (`None` when it has none); `Err` says what does not fit.
    pub fn of(flow_settings: &Value) -> Result<Option<WebhookSettings>, String> {
        match flow_settings.get("webhooks") {
            None | Some(Value::Null) => Ok(None),
            Some(w) => WebhookSettings::deserialize(w)
                .map(Some)
                .map_err(|e| format!("flowSettings.webhooks: {e}")),
        }
    }

    /// The bucket of `rateLimit`: per second and burst.
    pub fn bucket(&self) -> Option<(f64, u32)> {
        let r = self.rate_limit.filter(|r| r.per_second > 0.0)?;
        Some((
            r.per_second,
            r.burst
                .filter(|b| *b > 0)
                .unwrap_or_else(|| r.per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_read_with_their_defaults_and_keep_unknown_fields() {
        let s = WebhookSettings::of(
            &json!({"webhooks": {"responseMode": "sync", "rateLimit": {"perSecond": 2.5},
                                                        "custom": 1}}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.response_mode, Some(ResponseMode::Sync));
        assert_eq!(s.bucket(), Some((2.5, 3)));
        assert_eq!(serde_json::to_value(&s).unwrap()["custom"], 1);
        assert!(WebhookSettings::of(&json!({"webhooks": {"hmacAlgorithm": "md5"}})).is_err());
        assert_eq!(WebhookSettings::of(&json!({})).unwrap(), None);
    }
}
