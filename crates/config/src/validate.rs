//! What the types of [`Settings`] cannot say: ranges, the shape of URLs, the secrets key. Each problem names the
//! key and its environment variable; a URL that may hold a password is never echoed.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use secrecy::ExposeSecret;

use crate::Settings;

fn named(key: &str, problem: &str) -> String {
    format!("{key} (FLOWMATE_{}) {problem}", key.to_uppercase())
}

struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, key: &str, problem: &str) {
        if !ok {
            self.0.push(named(key, problem));
        }
    }

    fn at_least(&mut self, key: &str, value: u64, min: u64) {
        self.check(value >= min, key, &format!("must be at least {min}, not {value}"));
    }

    fn duration(&mut self, key: &str, value: Duration, min: Duration, max: Duration) {
        let unit_ms = key.ends_with("_ms");
        let show = |d: Duration| {
            if unit_ms {
                format!("{} ms", d.as_millis())
            } else {
                format!("{} s", d.as_secs())
            }
        };
        self.check(
            value >= min && value <= max,
            key,
            &format!(
                "must be between {} and {}, not {}",
                show(min),
                show(max),
                show(value)
            ),
        );
    }

    fn service_url(&mut self, key: &str, value: &str) {
        let ok = value
            .parse::<http::Uri>()
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some());
        self.check(
            ok,
            key,
            &format!(
                "must be an http(s) URL with a host and port, like http://identity:50051, not {value:?}"
            ),
        );
    }
}

/// Whether `text` is a keyring: comma-separated entries, each a 32-byte base64 key, optionally `kid:`-prefixed.
fn keyring_ok(text: &str) -> bool {
    let mut kids = Vec::new();
    let mut entries = 0;
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        entries += 1;
        let (kid, key) = match entry.split_once(':') {
            Some((kid, key)) => (Some(kid.trim()), key.trim()),
            None => (None, entry),
        };
        if STANDARD.decode(key).map(|b| b.len()) != Ok(32) {
            return false;
        }
        if let Some(kid) = kid {
            let valid = !kid.is_empty()
                && kid.len() <= 32
                && kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid || kids.contains(&kid) {
                return false;
            }
            kids.push(kid);
        }
    }
    entries > 0
}

/// Every problem with `s`, in field order.
pub(crate) fn problems(s: &Settings) -> Vec<String> {
    let mut p = Problems(Vec::new());
    addresses_and_keys(&mut p, s);
    limits(&mut p, s);
    p.0
}

/// The problems of the addresses (services, database, broker) and the secrets keys.
fn addresses_and_keys(p: &mut Problems, s: &Settings) {
    for (key, url) in [
        ("identity_url", &s.identity_url),
        ("flows_url", &s.flows_url),
        ("templates_url", &s.templates_url),
        ("executions_url", &s.executions_url),
        ("webhooks_url", &s.webhooks_url),
        ("secrets_url", &s.secrets_url),
    ] {
        p.service_url(key, url);
    }
    if let Some(url) = &s.database_url {
        let url = url.expose_secret();
        p.check(
            ["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|prefix| url.starts_with(prefix)),
            "database_url",
            "must start with postgres://, postgresql:// or sqlite:",
        );
    }
    if let Some(url) = &s.amqp_url {
        let url = url.expose_secret();
        p.check(
            url.starts_with("amqp://") || url.starts_with("amqps://"),
            "amqp_url",
            "must start with amqp:// or amqps://",
        );
    }
    for (key, value) in [("secrets_key", &s.secrets_key), ("secrets_keys", &s.secrets_keys)] {
        if let Some(ring) = value {
            p.check(
                keyring_ok(ring.expose_secret()),
                key,
                "must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`), or a keyring of such keys \
                 `kid:base64,kid:base64` with distinct ids of letters, digits, _ and - (at most 32)",
            );
        }
    }
}

/// The problems of names, durations, sizes and limits.
fn limits(p: &mut Problems, s: &Settings) {
    p.check(!s.amqp_exchange.is_empty(), "amqp_exchange", "must not be empty");
    p.check(
        s.admin_username.contains('@'),
        "admin_username",
        "must be an e-mail address",
    );
    p.check(
        !s.default_tenant.trim().is_empty(),
        "default_tenant",
        "must not be empty",
    );
    let (min, day) = (Duration::from_millis(1), Duration::from_secs(86_400));
    p.duration("token_ttl_secs", s.token_ttl, Duration::from_secs(60), day * 366);
    p.at_least("login_max_failures", u64::from(s.login_max_failures), 1);
    p.duration("login_lockout_secs", s.login_lockout, Duration::ZERO, day);
    p.at_least("body_limit_bytes", s.body_limit_bytes as u64, 1024);
    p.duration("rpc_timeout_ms", s.rpc_timeout, min, Duration::from_secs(3600));
    p.at_least(
        "database_max_connections",
        u64::from(s.database_max_connections),
        1,
    );
    p.at_least("execution_concurrency", u64::from(s.execution_concurrency), 1);
    p.at_least(
        "execution_max_output_bytes",
        s.execution_max_output_bytes as u64,
        64,
    );
    p.at_least("execution_max_steps", u64::from(s.execution_max_steps), 1);
    p.at_least("execution_max_depth", u64::from(s.execution_max_depth), 1);
    if let Some(url) = &s.public_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            p.check(
                false,
                "public_url",
                &format!("must be an http:// or https:// URL, not \"{url}\""),
            );
        }
    }
    p.duration(
        "expression_timeout_ms",
        s.expression_timeout,
        min,
        Duration::from_secs(60),
    );
    p.duration("http_timeout_ms", s.http_timeout, min, Duration::from_secs(300));
    p.duration("code_timeout_ms", s.code_timeout, min, Duration::from_secs(300));
    p.check(
        (8..=4096).contains(&s.code_memory_mb),
        "code_memory_mb",
        &format!("must be between 8 and 4096, not {}", s.code_memory_mb),
    );
    p.at_least("code_max_result_bytes", s.code_max_result_bytes as u64, 1024);
    p.duration(
        "secrets_token_timeout_ms",
        s.secrets_token_timeout,
        min,
        Duration::from_secs(300),
    );
    p.duration(
        "webhook_sync_timeout_ms",
        s.webhook_sync_timeout,
        min,
        Duration::from_secs(55),
    );
    p.check(
        s.webhook_rate_limit_per_sec.is_finite() && s.webhook_rate_limit_per_sec >= 0.0,
        "webhook_rate_limit_per_sec",
        "must be a number ≥ 0 (0: no limit)",
    );
    p.at_least(
        "webhook_rate_limit_burst",
        u64::from(s.webhook_rate_limit_burst),
        1,
    );
}
