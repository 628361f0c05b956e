//! A resolved secret as the headers a request carries (basic auth, an API key header, a bearer token, a MIXED
//! payload's `headers`), and the `http` step with a credential: one retry with a refreshed token after a `401`.
//! Header values are marked sensitive and the type's `Debug` shows none of them.

use base64::{engine::general_purpose::STANDARD, Engine};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use serde_json::Value;

use super::client::{Credentials, StepCredential};
use crate::{components::outbound::HttpCaller, model::StepError};

/// A secret ready to apply.
pub struct Credential {
    headers: HeaderMap,
    /// OAuth2: SHA-256 (hex) of the access token, to tell the secret service which one was refused.
    token_sha256: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("Credential")
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

fn sensitive(text: &str) -> Result<HeaderValue, String> {
    let mut v =
        HeaderValue::from_str(text).map_err(|_| "its value cannot be sent in an HTTP header".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Credential {
    /// The headers of a secret of type `kind` with value `v` (as the secret service resolves it).
    pub fn from_value(kind: &str, v: &Value) -> Result<Credential, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut headers = HeaderMap::new();
        let mut token_sha256 = None;
        match kind {
            "SIMPLE" => {
                let pair = format!("{}:{}", text("username"), text("passphrase"));
                headers.insert(
                    AUTHORIZATION,
                    sensitive(&format!("Basic {}", STANDARD.encode(pair)))?,
                );
            }
            "API_KEY" => match v
                .get("headerName")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
            {
                Some(name) => {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| "headerName is not a header name")?;
                    headers.insert(name, sensitive(text("key"))?);
                }
                None => {
                    headers.insert(AUTHORIZATION, sensitive(&format!("Bearer {}", text("key")))?);
                }
            },
            "MIXED" => {
                let payload = match v.get("payload") {
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                    Some(other) => other.clone(),
                    None => Value::Null,
                };
                let Some(map) = payload.get("headers").and_then(Value::as_object) else {
                    return Err("its MIXED payload has no headers object".into());
                };
                for (name, value) in map {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| "its headers include an invalid name")?;
                    let value = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    headers.insert(name, sensitive(&value)?);
                }
            }
            "OA2_CLIENT_CREDENTIALS" | "OA2_AUTHORIZATION_CODE" => {
                let token = text("accessToken");
                headers.insert(AUTHORIZATION, sensitive(&format!("Bearer {token}"))?);
                token_sha256 = Some(sha256_hex(token));
            }
            other => return Err(format!("the type {other} cannot be applied to a request")),
        }
        Ok(Credential {
            headers,
            token_sha256,
        })
    }

    /// The headers to set on the request.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// OAuth2: the SHA-256 of the access token.
    pub fn token_sha256(&self) -> Option<&str> {
        self.token_sha256.as_deref()
    }
}

/// An `http` step whose node names a credential: the request carries it; an OAuth2 token refused with `401` is
/// refreshed (once for all concurrent callers, by the secret service) and the request sent once more.
pub async fn http_call(
    http: &HttpCaller,
    credentials: &Credentials,
    step: &StepCredential,
    node_id: &str,
    fields: &Value,
) -> Result<Value, StepError> {
    let credential = credentials.get(step).await?;
    let answer = http.send(node_id, fields, credential.headers()).await?;
    if answer.status != 401 || credential.token_sha256().is_none() {
        return answer.finish(fields);
    }
    let renewed = credentials.after_refusal(step, &credential).await?;
    http.send(node_id, fields, renewed.headers())
        .await?
        .finish(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_type_becomes_its_headers_and_debug_shows_no_value() {
        let basic = Credential::from_value("SIMPLE", &json!({"username": "u", "passphrase": "p"})).unwrap();
        assert_eq!(basic.headers()[AUTHORIZATION], "Basic dTpw");
        let key =
            Credential::from_value("API_KEY", &json!({"key": "k-1", "headerName": "x-api-key"})).unwrap();
        assert_eq!(key.headers()["x-api-key"], "k-1");
        let bearer = Credential::from_value("API_KEY", &json!({"key": "k-2"})).unwrap();
        assert_eq!(bearer.headers()[AUTHORIZATION], "Bearer k-2");
        let mixed =
            Credential::from_value("MIXED", &json!({"payload": "{\"headers\":{\"x-a\":\"v-3\"}}"})).unwrap();
        assert_eq!(mixed.headers()["x-a"], "v-3");
        let oauth = Credential::from_value("OA2_CLIENT_CREDENTIALS", &json!({"accessToken": "t-4"})).unwrap();
        assert_eq!(oauth.headers()[AUTHORIZATION], "Bearer t-4");
        assert_eq!(oauth.token_sha256().unwrap().len(), 64);
        for c in [basic, key, bearer, mixed, oauth] {
            let text = format!("{c:?} {:?}", c.headers());
            assert!(
                !text.contains("k-1") && !text.contains("t-4") && !text.contains("dTpw"),
                "{text}"
            );
        }
        assert!(Credential::from_value("MIXED", &json!({"payload": "plain"})).is_err());
    }
}
