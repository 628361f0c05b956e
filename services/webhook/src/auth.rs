//! Webhook authentication (API.md §5) when `requireWebhookAuth` is set: an HMAC of the raw body in the flow's
//! HMAC header, or a bearer token with `webhooks.execute` whose holder owns the flow (or belongs to its tenant when
//! `allTenantUsers` is set). Applies to GET too (the empty body is signed).

use flowmate_auth::{bearer_token, Verifier};
use flowmate_domain::permissions;
use ring::hmac;

use crate::flows::HookFlow;

/// Why a webhook was refused (all render as 403).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No signature and no token.
    Missing,
    /// The signature does not match.
    BadSignature,
    /// The token is invalid, lacks `webhooks.execute`, or its holder may not call this flow.
    NotAllowed,
    /// The flow's secret cannot be used (wrong or missing key).
    Misconfigured,
}

impl Refusal {
    /// The message in the 403 body.
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Missing => {
                "Webhook authentication required: sign the body (HMAC) or send a bearer token."
            }
            Refusal::BadSignature => "Webhook signature does not match.",
            Refusal::NotAllowed => "Webhook token is not allowed to run this flow.",
            Refusal::Misconfigured => "Webhook authentication is not available for this flow.",
        }
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks the request; `header` reads a request header (lower-case name).
pub fn check<'a>(
    flow: &HookFlow,
    body: &[u8],
    header: impl Fn(&str) -> Option<&'a str>,
    verifier: &Verifier,
) -> Result<(), Refusal> {
    let settings = &flow.settings;
    if let Some(signature) = header(&settings.hmac_header) {
        let secret = match &settings.hmac_secret {
            Some(Ok(secret)) => secret,
            Some(Err(_)) => return Err(Refusal::Misconfigured),
            None => return Err(Refusal::BadSignature),
        };
        let algorithm = if settings.sha512 {
            hmac::HMAC_SHA512
        } else {
            hmac::HMAC_SHA256
        };
        let digest = signature
            .trim()
            .split_once('=')
            .filter(|(prefix, _)| prefix.starts_with("sha"))
            .map(|(_, d)| d)
            .unwrap_or(signature.trim());
        let tag = hex(&digest.to_ascii_lowercase()).ok_or(Refusal::BadSignature)?;
        let key = hmac::Key::new(algorithm, secret);
        // Constant-time comparison.
        return hmac::verify(&key, body, &tag).map_err(|_| Refusal::BadSignature);
    }
    let Some(authorization) = header("authorization") else {
        return Err(Refusal::Missing);
    };
    let token = bearer_token(Some(authorization)).map_err(|_| Refusal::NotAllowed)?;
    let caller = verifier.verify(token).map_err(|_| Refusal::NotAllowed)?;
    if !caller.can(permissions::WEBHOOKS_EXECUTE) {
        return Err(Refusal::NotAllowed);
    }
    let owns = caller.is_admin()
        || flow.owners.iter().any(|o| o == caller.user_id())
        || (settings.all_tenant_users && caller.tenant() == flow.tenant);
    if owns {
        Ok(())
    } else {
        Err(Refusal::NotAllowed)
    }
}

/// The hex HMAC of `body` (for tests and clients' documentation).
pub fn sign(secret: &[u8], body: &[u8], sha512: bool) -> String {
    let algorithm = if sha512 {
        hmac::HMAC_SHA512
    } else {
        hmac::HMAC_SHA256
    };
    hmac::sign(&hmac::Key::new(algorithm, secret), body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::HookSettings;

    fn flow(secret: &str, sha512: bool) -> HookFlow {
        HookFlow {
            id: "f".into(),
            tenant: "t".into(),
            owners: vec!["u".into()],
            webhook_trigger: true,
            settings: HookSettings {
                require_auth: true,
                hmac_secret: Some(Ok(secret.as_bytes().to_vec())),
                hmac_header: "x-hmac".into(),
                sha512,
                ..HookSettings::default()
            },
        }
    }

    #[test]
    fn signatures_are_checked_with_or_without_a_prefix() {
        let verifier = Verifier::new();
        for sha512 in [false, true] {
            let f = flow("s3cret", sha512);
            let good = sign(b"s3cret", b"{\"a\":1}", sha512);
            assert_eq!(
                check(
                    &f,
                    b"{\"a\":1}",
                    |h| (h == "x-hmac").then_some(good.as_str()),
                    &verifier
                ),
                Ok(())
            );
            let prefixed = format!("{}={good}", if sha512 { "sha512" } else { "sha256" });
            assert_eq!(
                check(
                    &f,
                    b"{\"a\":1}",
                    |h| (h == "x-hmac").then_some(prefixed.as_str()),
                    &verifier
                ),
                Ok(())
            );
            assert_eq!(
                check(
                    &f,
                    b"{\"a\":2}",
                    |h| (h == "x-hmac").then_some(good.as_str()),
                    &verifier
                ),
                Err(Refusal::BadSignature)
            );
            assert_eq!(
                check(&f, b"x", |h| (h == "x-hmac").then_some("zz"), &verifier),
                Err(Refusal::BadSignature)
            );
        }
        assert_eq!(
            check(&flow("s", false), b"", |_| None, &verifier),
            Err(Refusal::Missing)
        );
        assert_eq!(
            check(
                &flow("s", false),
                b"",
                |h| (h == "authorization").then_some("Bearer nope"),
                &verifier
            ),
            Err(Refusal::NotAllowed)
        );
    }
}
