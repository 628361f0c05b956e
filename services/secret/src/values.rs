//! The value of each secret type (API.md §9): which fields it has, which are sensitive (shown as `"***"`), what is
//! required, how a patch merges (`"***"` keeps a stored field, `null` removes an optional one), and the size limit.
//! Every problem is reported at once, with its JSON pointer.

use flowmate_auth::secrets::MASK;
use flowmate_domain::{error::Problems, time};
use serde_json::{Map, Value};

use crate::model::SecretType;

/// The largest value accepted (its JSON, in bytes).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A field of a value: its name, whether it is sensitive, whether it is required.
struct Field {
    name: &'static str,
    sensitive: bool,
    required: bool,
}

const fn f(name: &'static str, sensitive: bool, required: bool) -> Field {
    Field {
        name,
        sensitive,
        required,
    }
}

const SIMPLE: &[Field] = &[f("username", true, true), f("passphrase", true, true)];
const API_KEY: &[Field] = &[f("key", true, true), f("headerName", false, false)];
const MIXED: &[Field] = &[f("payload", true, true)];
const OA2_CLIENT_CREDENTIALS: &[Field] = &[
    f("clientId", false, true),
    f("clientSecret", true, true),
    f("tokenUrl", false, true),
    f("scope", false, false),
    // Kept by the service: the current token and when it expires.
    f("accessToken", true, false),
    f("expires", false, false),
];
const OA2_AUTHORIZATION_CODE: &[Field] = &[
    f("authClientId", false, true),
    f("accessToken", true, true),
    f("refreshToken", true, false),
    f("expires", false, false),
    f("scope", false, false),
];

fn fields(kind: SecretType) -> &'static [Field] {
    match kind {
        SecretType::Simple => SIMPLE,
        SecretType::ApiKey => API_KEY,
        SecretType::Mixed => MIXED,
        SecretType::Oa2ClientCredentials => OA2_CLIENT_CREDENTIALS,
        SecretType::Oa2AuthorizationCode => OA2_AUTHORIZATION_CODE,
    }
}

/// A secret's value in clear. Its `Debug` never shows it.
#[derive(Clone, PartialEq)]
pub struct Plain(pub Map<String, Value>);

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plain(***)")
    }
}

impl Plain {
    /// A text field.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// The value as it is shown: sensitive fields present are `"***"`.
    pub fn display(&self, kind: SecretType) -> Map<String, Value> {
        let mut out = Map::new();
        for field in fields(kind) {
            if let Some(v) = self.0.get(field.name).filter(|v| !v.is_null()) {
                let shown = if field.sensitive {
                    Value::String(MASK.into())
                } else {
                    v.clone()
                };
                out.insert(field.name.into(), shown);
            }
        }
        out
    }

    /// Every sensitive text in the value (to scrub from provider messages).
    pub fn sensitive_texts(&self, kind: SecretType) -> Vec<String> {
        fields(kind)
            .iter()
            .filter(|f| f.sensitive)
            .filter_map(|f| self.0.get(f.name))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .filter(|s| s.len() >= 4)
            .collect()
    }
}

/// The value of a new secret: only the type's fields, each checked. `at` is the pointer of the value
/// (`/data/value`).
pub fn create(kind: SecretType, value: &Value, at: &str, problems: &mut Problems) -> Plain {
    let Value::Object(given) = value else {
        problems.add(at, "value must be an object.");
        return Plain(Map::new());
    };
    for field in fields(kind) {
        if given.get(field.name).and_then(Value::as_str) == Some(MASK) {
            problems.add(
                &format!("{at}/{}", field.name),
                format!("\"{MASK}\" keeps a stored value; a new secret has none: send the value itself."),
            );
        }
    }
    let plain = pick(kind, given);
    check(kind, &plain, at, problems);
    plain
}

/// `stored` with `patch` applied: a given field replaces the stored one, `"***"` keeps it, `null` removes it,
/// an absent one is kept; then the whole value is checked.
pub fn merge(kind: SecretType, stored: &Plain, patch: &Value, at: &str, problems: &mut Problems) -> Plain {
    let Value::Object(patch) = patch else {
        problems.add(at, "value must be an object.");
        return stored.clone();
    };
    let mut out = stored.0.clone();
    for field in fields(kind) {
        match patch.get(field.name) {
            None => {}
            Some(Value::String(s)) if s == MASK => {}
            Some(Value::Null) => {
                out.remove(field.name);
            }
            Some(v) => {
                out.insert(field.name.into(), v.clone());
            }
        }
    }
    let plain = Plain(out);
    check(kind, &plain, at, problems);
    plain
}

fn pick(kind: SecretType, given: &Map<String, Value>) -> Plain {
    let mut out = Map::new();
    for field in fields(kind) {
        if let Some(v) = given.get(field.name).filter(|v| !v.is_null()) {
            out.insert(field.name.into(), v.clone());
        }
    }
    Plain(out)
}

/// Whether `url` is an absolute http(s) URL.
pub fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn check(kind: SecretType, plain: &Plain, at: &str, problems: &mut Problems) {
    for field in fields(kind) {
        let pointer = format!("{at}/{}", field.name);
        match plain.0.get(field.name) {
            None if field.required => problems.add(
                &pointer,
                format!("{} secrets require {}.", kind.as_str(), field.name),
            ),
            None => {}
            // A MIXED payload is free form: a string or any JSON value.
            Some(_) if kind == SecretType::Mixed => {}
            Some(Value::String(s)) if s.is_empty() && field.required => {
                problems.add(&pointer, format!("{} must not be empty.", field.name))
            }
            Some(Value::String(_)) => {}
            Some(_) => problems.add(&pointer, format!("{} must be a string.", field.name)),
        }
    }
    if let Some(header) = plain.text("headerName") {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            problems.add(
                &format!("{at}/headerName"),
                "headerName is not a valid HTTP header name.",
            );
        }
    }
    if kind == SecretType::Oa2ClientCredentials {
        if let Some(url) = plain.text("tokenUrl") {
            if !is_http_url(url) {
                problems.add(
                    &format!("{at}/tokenUrl"),
                    "tokenUrl must be an http or https URL.",
                );
            }
        }
    }
    if let Some(expires) = plain.text("expires") {
        if time::parse(expires).is_none() {
            problems.add(
                &format!("{at}/expires"),
                "expires must be an RFC 3339 time (2026-01-31T12:00:00Z).",
            );
        }
    }
    let size = Value::Object(plain.0.clone()).to_string().len();
    if size > MAX_VALUE_BYTES {
        problems.add(
            at,
            format!("value is {size} bytes of JSON; at most {MAX_VALUE_BYTES} are accepted."),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems_of(kind: SecretType, value: Value) -> Vec<(String, String)> {
        let mut p = Problems::default();
        create(kind, &value, "/data/value", &mut p);
        match p.finish() {
            Ok(()) => vec![],
            Err(f) => f
                .problems
                .into_iter()
                .map(|p| (p.field.unwrap_or_default(), p.message))
                .collect(),
        }
    }

    #[test]
    fn every_missing_field_of_a_type_is_reported() {
        let p = problems_of(SecretType::Oa2ClientCredentials, json!({"tokenUrl": "ftp://x"}));
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "/data/value/clientId",
                "/data/value/clientSecret",
                "/data/value/tokenUrl"
            ]
        );
        assert!(problems_of(SecretType::Simple, json!({"username": "u", "passphrase": "p"})).is_empty());
        assert_eq!(problems_of(SecretType::Mixed, json!({})).len(), 1);
        assert!(problems_of(SecretType::Mixed, json!({"payload": {"url": "x"}})).is_empty());
        assert_eq!(
            problems_of(
                SecretType::ApiKey,
                json!({"key": "k", "headerName": "bad header"})
            )[0]
            .0,
            "/data/value/headerName"
        );
    }

    #[test]
    fn a_mask_keeps_the_stored_field_and_null_removes_an_optional_one() {
        let stored = Plain(
            json!({"key": "k1", "headerName": "x-api-key"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let mut p = Problems::default();
        let merged = merge(
            SecretType::ApiKey,
            &stored,
            &json!({"key": "***", "headerName": null}),
            "/v",
            &mut p,
        );
        assert!(p.finish().is_ok());
        assert_eq!(merged.0, json!({"key": "k1"}).as_object().unwrap().clone());
        let mut p = Problems::default();
        create(SecretType::ApiKey, &json!({"key": "***"}), "/v", &mut p);
        assert!(p.finish().is_err(), "a mask is no value for a new secret");
    }

    #[test]
    fn sensitive_fields_are_masked_and_never_debug_printed() {
        let plain = Plain(
            json!({"key": "sk-123", "headerName": "x-api-key"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            Value::Object(plain.display(SecretType::ApiKey)),
            json!({"key": "***", "headerName": "x-api-key"})
        );
        assert!(!format!("{plain:?}").contains("sk-123"));
    }

    #[test]
    fn values_over_the_limit_are_refused() {
        let big = "x".repeat(MAX_VALUE_BYTES);
        let p = problems_of(SecretType::ApiKey, json!({"key": big}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "/data/value");
        assert!(p[0].1.contains("at most 65536"), "{}", p[0].1);
    }
}
