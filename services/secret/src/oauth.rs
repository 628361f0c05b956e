//! Calls to OAuth2 token endpoints (RFC 6749 §4.1.3, §4.4, §6): one bounded request per grant, no redirects, the
//! private-network guard unless configured otherwise, and failures described without a word of the provider's body
//! beyond its OAuth `error` code, so no secret can travel in an error message.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;

/// The largest token response read.
const MAX_BODY: usize = 1024 * 1024;

/// A grant to ask a token endpoint for.
pub enum Grant<'a> {
    /// `client_credentials`.
    ClientCredentials {
        /// `client_id`.
        client_id: &'a str,
        /// `client_secret`.
        client_secret: &'a str,
        /// `scope` (empty: none).
        scope: &'a str,
    },
    /// `refresh_token`.
    RefreshToken {
        /// `client_id`.
        client_id: &'a str,
        /// `client_secret`.
        client_secret: &'a str,
        /// The refresh token.
        refresh_token: &'a str,
    },
    /// `authorization_code`.
    AuthorizationCode {
        /// `client_id`.
        client_id: &'a str,
        /// `client_secret`.
        client_secret: &'a str,
        /// The code the provider sent to the callback.
        code: &'a str,
        /// The redirect URI the consent used.
        redirect_uri: &'a str,
    },
}

/// What a token endpoint granted. Its `Debug` shows no token.
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<String>,
    /// Lifetime of the access token in seconds, when given.
    pub expires_in: Option<i64>,
    /// The scopes granted, when given.
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Resolves names and refuses internal addresses.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| flowmate_domain::net::is_internal(a.ip())) {
                let e = std::io::Error::other(format!("{host} resolves to a private or loopback address"));
                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Calls token endpoints.
#[derive(Clone)]
pub struct TokenClient {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl TokenClient {
    /// A client whose calls end after `timeout`; `allow_private` lifts the internal-address guard.
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<TokenClient> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("FlowMate/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(TokenClient {
            client: builder.build()?,
            timeout,
            allow_private,
        })
    }

    /// The timeout of one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Asks `url` for tokens. The error describes the failure for a step's error message; `scrub` lists texts
    /// that must not appear in it (the client secret, the refresh token).
    pub async fn request(&self, url: &str, grant: Grant<'_>, scrub: &[&str]) -> Result<Tokens, String> {
        self.call(url, grant).await.map_err(|m| scrubbed(m, scrub))
    }

    async fn call(&self, url: &str, grant: Grant<'_>) -> Result<Tokens, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "the token URL is not a valid URL".to_owned())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the token URL must be http or https".into());
        }
        let literal_internal = parsed
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(flowmate_domain::net::is_internal);
        if !self.allow_private && literal_internal {
            return Err("the token endpoint is on a private or loopback address, which is refused".into());
        }
        let form = form_of(&grant);
        let body =
            serde_urlencoded::to_string(&form).map_err(|_| "the request could not be encoded".to_owned())?;
        let secs = self.timeout.as_secs_f64();
        let exchange = async {
            let mut response = self
                .client
                .post(parsed)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| unreachable_reason(&e))?;
            let status = response.status();
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|_| "the token endpoint's answer was cut off".to_owned())?
            {
                if bytes.len() + chunk.len() > MAX_BODY {
                    return Err("the token endpoint's answer is larger than 1 MiB".to_owned());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("the token endpoint did not answer within {secs} s"))??;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let code = json
                .as_ref()
                .and_then(|j| j.get("error"))
                .and_then(Value::as_str)
                .filter(|c| {
                    c.len() <= 64 && c.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                });
            return Err(match code {
                Some(code) => format!("the token endpoint answered {} ({code})", status.as_u16()),
                None => format!("the token endpoint answered {}", status.as_u16()),
            });
        }
        parse_tokens(json.as_ref())
            .ok_or_else(|| "the token endpoint's answer is not an OAuth2 token response".to_owned())
    }
}

/// The form fields of a grant (client credentials in the body: `client_secret_post`).
fn form_of<'a>(grant: &Grant<'a>) -> Vec<(&'static str, &'a str)> {
    match *grant {
        Grant::ClientCredentials {
            client_id,
            client_secret,
            scope,
        } => {
            let mut f = vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ];
            if !scope.is_empty() {
                f.push(("scope", scope));
            }
            f
        }
        Grant::RefreshToken {
            client_id,
            client_secret,
            refresh_token,
        } => vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ],
        Grant::AuthorizationCode {
            client_id,
            client_secret,
            code,
            redirect_uri,
        } => vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ],
    }
}

fn unreachable_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the token endpoint did not answer in time".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if text.contains("private or loopback") {
        return "the token endpoint is on a private or loopback address, which is refused".into();
    }
    "the token endpoint could not be reached".into()
}

fn parse_tokens(json: Option<&Value>) -> Option<Tokens> {
    let json = json?;
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())?
        .to_owned();
    let text = |k: &str| {
        json.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let expires_in = match json.get("expires_in") {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        expires_in: expires_in.filter(|e| *e > 0),
        scope: text("scope"),
    })
}

fn scrubbed(mut message: String, scrub: &[&str]) -> String {
    for s in scrub.iter().filter(|s| s.len() >= 4) {
        message = message.replace(s, flowmate_auth::secrets::MASK);
    }
    message
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn token_responses_need_an_access_token() {
        assert!(parse_tokens(Some(&json!({"token_type": "bearer"}))).is_none());
        assert!(parse_tokens(Some(&json!("garbage"))).is_none());
        assert!(parse_tokens(None).is_none());
        let t = parse_tokens(Some(
            &json!({"access_token": "tok-xyz", "expires_in": "3600", "refresh_token": "ref-xyz"}),
        ))
        .unwrap();
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.refresh_token.as_deref(), Some("ref-xyz"));
        assert!(!format!("{t:?}").contains("xyz"));
    }

    #[test]
    fn messages_never_carry_scrubbed_texts() {
        assert_eq!(scrubbed("x s3cr3t y".into(), &["s3cr3t"]), "x *** y");
    }
}
