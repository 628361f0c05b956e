//! The `http` component's outbound client: templated request in, `{status, headers, body}` out. Unless configured
//! otherwise, requests to loopback, private, link-local and other internal addresses are refused — checked on the
//! resolved addresses (so a public name pointing inside is refused too) and on every redirect.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    header::HeaderMap,
    redirect, Method,
};
use serde_json::{Map, Value};

use crate::model::StepError;

/// The longest an `http` step may wait for its answer, whatever it asks for.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest response body an `http` step reads.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Calls URLs for `http` steps.
#[derive(Clone)]
pub struct HttpCaller {
    client: reqwest::Client,
    allow_private: bool,
    default_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{0} resolves to a private or loopback address; such requests are refused (http_allow_private_network)"
)]
struct Refused(String);

/// Resolves names and refuses internal addresses.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Loopback, private, link-local and the other internal addresses (one rule for every outgoing call a user aims).
pub use flowmate_domain::net::is_internal;

fn literal_is_internal(url: &reqwest::Url) -> bool {
    url.host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(is_internal)
}

fn fail(message: impl Into<String>) -> StepError {
    StepError::new("HttpError", message)
}

impl HttpCaller {
    /// A client; `allow_private` lifts the internal-address guard.
    pub fn new(allow_private: bool, default_timeout: Duration) -> anyhow::Result<HttpCaller> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("FlowMate/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            // A proxy from the environment would resolve targets itself, around the private-network guard.
            .no_proxy();
        if !allow_private {
            builder = builder
                .dns_resolver(Arc::new(GuardedResolver))
                .redirect(redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 10 {
                        attempt.error("too many redirects")
                    } else if literal_is_internal(attempt.url()) {
                        let url = attempt.url().to_string();
                        attempt.error(Refused(url))
                    } else {
                        attempt.follow()
                    }
                }));
        }
        Ok(HttpCaller {
            client: builder.build()?,
            allow_private,
            default_timeout,
        })
    }

    /// Performs the request described by the node's (already templated) `fields`.
    pub async fn call(&self, node_id: &str, fields: &Value) -> Result<Value, StepError> {
        self.send(node_id, fields, &HeaderMap::new())
            .await?
            .finish(fields)
    }

    /// Performs the request with `extra` headers set over the node's own (a credential's), and returns the answer
    /// before its status is judged, so a caller can react to a `401` first.
    pub async fn send(&self, node_id: &str, fields: &Value, extra: &HeaderMap) -> Result<Answer, StepError> {
        let url = fields
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                StepError::new(
                    "ConfigurationError",
                    format!("node {node_id}: fields.url is required"),
                )
            })?;
        let url = reqwest::Url::parse(url).map_err(|e| fail(format!("invalid url {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(fail(format!("unsupported URL scheme {:?}", url.scheme())));
        }
        if !self.allow_private && literal_is_internal(&url) {
            return Err(fail(Refused(url.to_string()).to_string()));
        }
        let method = fields
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method =
            Method::from_bytes(method.as_bytes()).map_err(|_| fail(format!("invalid method {method:?}")))?;
        // Capped, so one step cannot hold its trigger past the broker's delivery timeout.
        let timeout = fields
            .get("timeoutMs")
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
            .unwrap_or(self.default_timeout)
            .min(MAX_TIMEOUT);
        let mut request = self.client.request(method.clone(), url.clone()).timeout(timeout);
        if let Some(Value::Object(headers)) = fields.get("headers") {
            for (k, v) in headers {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                request = request.header(k.as_str(), v);
            }
        }
        if !extra.is_empty() {
            // Replaces the node's headers of the same names.
            request = request.headers(extra.clone());
        }
        match fields.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => request = request.body(s.clone()),
            Some(body) => request = request.json(body),
        }
        let mut response = request.send().await.map_err(|e| describe(&method, &url, e))?;
        let status = response.status();
        let mut headers = Map::new();
        for (k, v) in response.headers() {
            headers.insert(
                k.as_str().to_owned(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            );
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&method, &url, e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(fail(format!(
                    "{method} {url}: response body larger than {MAX_BODY} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(Answer {
            method,
            url,
            status: status.as_u16(),
            value: serde_json::json!({"status": status.as_u16(), "headers": headers, "body": body}),
        })
    }
}

/// An `http` step's answer before its status is judged.
#[derive(Debug)]
pub struct Answer {
    method: Method,
    url: reqwest::Url,
    /// The HTTP status.
    pub status: u16,
    value: Value,
}

impl Answer {
    /// `{status, headers, body}`, or the step's failure on a non-2xx status unless `allowErrorStatus`.
    pub fn finish(self, fields: &Value) -> Result<Value, StepError> {
        let allow_errors = fields
            .get("allowErrorStatus")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !(200..300).contains(&self.status) && !allow_errors {
            return Err(fail(format!(
                "{} {} answered {}",
                self.method, self.url, self.status
            )));
        }
        Ok(self.value)
    }
}

fn describe(method: &Method, url: &reqwest::Url, e: reqwest::Error) -> StepError {
    if e.is_timeout() {
        return StepError::new("Timeout", format!("{method} {url} timed out"));
    }
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        cause = format!("{cause}: {s}");
        source = s.source();
    }
    fail(format!("{method} {url} failed: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
