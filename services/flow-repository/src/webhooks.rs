//! `flowSettings.webhooks` (API.md §5): checked when a flow is saved, and its `hmacSecret` kept write-only — sealed
//! with the secrets key before it is stored, shown as `"***"` in every API answer. Sending `"***"` back in an update
//! keeps the stored secret. Internal consumers (events, the active-flow listing) get the sealed value, which only a
//! holder of the key (the webhook service) can open.

use flowmate_auth::secrets::{is_sealed, SecretBox, MASK};
use flowmate_domain::{
    error::Problems,
    flow::{webhooks::WebhookSettings, Flow, FlowBody},
    Fault,
};
use serde_json::Value;

const BASE: &str = "/flowSettings/webhooks";
/// The longest a sync webhook may wait for its execution.
pub const MAX_SYNC_TIMEOUT_MS: u64 = 55_000;

/// Validates `body`'s webhook settings and seals a new `hmacSecret`; `current` is the stored flow on updates.
pub fn prepare(
    body: &mut FlowBody,
    current: Option<&FlowBody>,
    secrets: Option<&SecretBox>,
) -> Result<(), Fault> {
    let mut p = Problems::default();
    let Some(webhooks) = body.flow_settings.get_mut("webhooks") else {
        return Ok(());
    };
    let Some(settings) = webhooks.as_object_mut() else {
        p.add(BASE, "flowSettings.webhooks must be an object.");
        return p.finish();
    };
    let boolean = |key: &str, p: &mut Problems| {
        if settings.get(key).is_some_and(|v| !v.is_boolean() && !v.is_null()) {
            p.add(&format!("{BASE}/{key}"), format!("{key} must be true or false."));
        }
    };
    boolean("requireWebhookAuth", &mut p);
    boolean("allTenantUsers", &mut p);
    let one_of = |key: &str, allowed: &[&str], p: &mut Problems| match settings.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
        Some(_) => p.add(
            &format!("{BASE}/{key}"),
            format!("{key} must be one of: {}.", allowed.join(", ")),
        ),
    };
    one_of("hmacAlgorithm", &["sha256", "sha512"], &mut p);
    one_of("responseMode", &["async", "sync"], &mut p);
    if settings
        .get("hmacHeaderKey")
        .is_some_and(|v| !v.is_string() && !v.is_null())
    {
        p.add(
            &format!("{BASE}/hmacHeaderKey"),
            "hmacHeaderKey must be a header name.",
        );
    }
    // A sync caller waits at most this long; longer work answers 202 with a statusUrl. (Idempotency-Key repeats
    // treat a request unanswered after 60 s as crashed, so a wait must end well before.)
    if settings
        .get("syncTimeoutMs")
        .is_some_and(|v| !v.is_null() && v.as_u64().is_none_or(|n| n == 0 || n > MAX_SYNC_TIMEOUT_MS))
    {
        p.add(
            &format!("{BASE}/syncTimeoutMs"),
            format!("syncTimeoutMs must be 1 to {MAX_SYNC_TIMEOUT_MS} milliseconds."),
        );
    }
    if let Some(limit) = settings.get("rateLimit").filter(|v| !v.is_null()) {
        let ok = limit
            .get("perSecond")
            .and_then(Value::as_f64)
            .is_some_and(|n| n > 0.0)
            && limit
                .get("burst")
                .is_none_or(|b| b.as_u64().is_some_and(|n| n > 0));
        if !ok {
            p.add(
                &format!("{BASE}/rateLimit"),
                "rateLimit must be {\"perSecond\": > 0, \"burst\": > 0 (optional)}.",
            );
        }
    }
    let stored = current
        .and_then(|c| c.flow_settings.pointer("/webhooks/hmacSecret"))
        .and_then(Value::as_str)
        .filter(|s| is_sealed(s))
        .map(str::to_owned);
    match settings.get("hmacSecret").cloned() {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == MASK => match stored {
            Some(sealed) => {
                settings.insert("hmacSecret".into(), Value::String(sealed));
            }
            None => p.add(
                &format!("{BASE}/hmacSecret"),
                "There is no stored hmacSecret to keep; send the secret.",
            ),
        },
        Some(Value::String(s)) if is_sealed(&s) && stored.as_deref() == Some(s.as_str()) => {}
        Some(Value::String(s)) if !s.is_empty() && !is_sealed(&s) => match secrets {
            Some(secrets) => match secrets.seal(&s) {
                Ok(sealed) => {
                    settings.insert("hmacSecret".into(), Value::String(sealed));
                }
                Err(e) => p.add(&format!("{BASE}/hmacSecret"), e.to_string()),
            },
            None => p.add(
                &format!("{BASE}/hmacSecret"),
                "Storing an hmacSecret needs the secrets key (FLOWMATE_SECRETS_KEY) to be configured.",
            ),
        },
        Some(_) => p.add(
            &format!("{BASE}/hmacSecret"),
            "hmacSecret must be a non-empty string.",
        ),
    }
    p.finish()?;
    // What passed the checks above reads as the one type the webhook service reads it with.
    if let Err(e) = WebhookSettings::of(&body.flow_settings) {
        let mut p = Problems::default();
        p.add(BASE, e);
        return p.finish();
    }
    Ok(())
}

/// The flow as API callers see it: the sealed `hmacSecret` replaced by `"***"`.
pub fn masked(flow: &Flow) -> std::borrow::Cow<'_, Flow> {
    let has_secret = flow
        .body
        .flow_settings
        .pointer("/webhooks/hmacSecret")
        .is_some_and(|v| !v.is_null());
    if !has_secret {
        return std::borrow::Cow::Borrowed(flow);
    }
    let mut copy = flow.clone();
    if let Some(settings) = copy.body.flow_settings.pointer_mut("/webhooks") {
        settings["hmacSecret"] = Value::String(MASK.into());
    }
    std::borrow::Cow::Owned(copy)
}
