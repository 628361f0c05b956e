//! The connector steps (API.md §10): `sql.query`, `email.send` and `amqp.publish`, and the `amqp.consume`
//! trigger (`consume`). Each reads the secret its node
//! names (`credentials_id`) through the secret service, keeps what it connects to (database pools, broker
//! channels) per replica so a step does not reconnect, and never lets a URL or password into an output, a log
//! line or an error.

pub mod amqp;
pub mod consume;
mod email;
mod sql;
mod sql_pools;
mod sql_rows;

use std::{path::PathBuf, sync::Arc};

use flowmate_domain::flow::Node;
use serde_json::{json, Value};

use super::{Outcome, Runtime, StepContext, StepFailure};
use crate::{
    credentials::SecretValue,
    expr::{self, Scope},
    model::StepError,
};

/// Which connector a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `sql.query`.
    Sql,
    /// `email.send`.
    Email,
    /// `amqp.publish`.
    AmqpPublish,
}

impl Connector {
    /// The fields it reads, for `GET /components`.
    pub fn fields(self) -> Value {
        match self {
            Connector::Sql => json!({
                "query": "SQL (required): one statement; placeholders $1, $2… (PostgreSQL, SQLite) or ? (MySQL/MariaDB)",
                "params": "array of JSONata expressions (or {{ }} templates, or plain JSON values) evaluated against the message; bound as parameters, never spliced into the SQL",
                "timeoutMs": "number (default 30000): statement timeout, enforced by the database and by FlowMate",
                "maxRows": "number (default 1000): more rows fail the step",
                "credentials_id (on the node)": "a MIXED secret whose payload is {\"url\": \"postgres://…\" | \"mysql://…\" | \"sqlite:<file>\"}"}),
            Connector::Email => json!({
                "host": "SMTP server (required)",
                "port": "number (default 587 for starttls, 465 for tls, 25 for none)",
                "tls": "starttls (default) | tls | none",
                "from": "sender address (required), {{ }} templated",
                "to": "address or array of addresses (required), {{ }} templated",
                "cc": "address or array of addresses, {{ }} templated",
                "subject": "string, {{ }} templated",
                "text": "plain-text body, {{ }} templated",
                "html": "HTML body, {{ }} templated (with text: both, as multipart/alternative)",
                "timeoutMs": "number (default 30000)",
                "credentials_id (on the node)": "optional SIMPLE secret {username, passphrase}: SMTP AUTH"}),
            Connector::AmqpPublish => json!({
                "exchange": "exchange name (\"\" is the default exchange), {{ }} templated",
                "routingKey": "routing key (required), {{ }} templated",
                "persistent": "boolean (default true): delivery mode 2",
                "timeoutMs": "number (default 30000): for the broker's confirm",
                "credentials_id (on the node)": "a MIXED secret whose payload is {\"url\": \"amqp://user:pass@host:5672/vhost\"}"}),
        }
    }

    /// The start-time check of a node's fields (the secret's type is checked by the secret service).
    pub fn check(self, node: &Node) -> Result<(), String> {
        let fields = &node.fields;
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        let named = node
            .credentials_id
            .as_deref()
            .is_some_and(|id| !id.trim().is_empty());
        match self {
            Connector::Sql => {
                if !named {
                    return Err(
                        "sql.query needs credentials_id: a MIXED secret whose payload holds {\"url\"}".into(),
                    );
                }
                text("query").ok_or("fields.query is required")?;
                sql::check_fields(fields)
            }
            Connector::Email => {
                text("host").ok_or("fields.host is required")?;
                text("from").ok_or("fields.from is required")?;
                let to = fields
                    .get("to")
                    .filter(|v| !v.is_null())
                    .ok_or("fields.to is required")?;
                if !(to.is_string() || to.is_array()) {
                    return Err("fields.to must be an address or an array of addresses".into());
                }
                email::check_fields(fields)
            }
            Connector::AmqpPublish => {
                if !named {
                    return Err(
                        "amqp.publish needs credentials_id: a MIXED secret whose payload holds {\"url\"}"
                            .into(),
                    );
                }
                text("routingKey").ok_or("fields.routingKey is required")?;
                match fields.get("exchange") {
                    None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
                    Some(_) => Err("fields.exchange must be a string".into()),
                }
            }
        }
    }
}

/// What connectors keep between steps (per replica).
pub struct Connectors {
    sql: sql_pools::Pools,
    amqp: amqp::Channels,
}

impl Connectors {
    /// `sqlite_dir`: where `sqlite:<file>` URLs point (`None`: SQLite databases are refused, so a flow cannot
    /// open files of the server).
    pub fn new(sqlite_dir: Option<PathBuf>) -> Connectors {
        Connectors {
            sql: sql_pools::Pools::new(sqlite_dir),
            amqp: amqp::Channels::default(),
        }
    }

    /// Refuses `amqp.publish` to FlowMate's own broker and vhost (`bus_url`, its RabbitMQ bus, when it has one).
    pub fn guarding_bus(mut self, bus_url: Option<&str>) -> Connectors {
        self.amqp.platform = bus_url.and_then(amqp::broker_key);
        self
    }
}

impl Default for Connectors {
    fn default() -> Connectors {
        Connectors::new(None)
    }
}

impl Connectors {
    /// Runs connector `c` on the step's message with the node's secret (already resolved).
    pub async fn step(
        &self,
        c: Connector,
        fields: &Value,
        scope: Scope<'_>,
        cx: &StepContext<'_>,
        limits: expr::Limits,
        secret: Option<&SecretValue>,
    ) -> Result<Value, StepError> {
        let needed = || {
            StepError::new(
                "ConfigurationError",
                format!("node {}: credentials_id is required", cx.node_id),
            )
        };
        match c {
            Connector::Sql => {
                sql::run(&self.sql, fields, scope, cx, limits, secret.ok_or_else(needed)?).await
            }
            Connector::Email => email::run(fields, scope, cx, limits, secret).await,
            Connector::AmqpPublish => {
                amqp::publish(&self.amqp, fields, scope, cx, limits, secret.ok_or_else(needed)?).await
            }
        }
    }
}

/// Runs connector `c` on the step's message: resolves the node's secret, then [`Connectors::step`].
pub async fn run(
    c: Connector,
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    rt: &Runtime,
) -> Result<Outcome, StepFailure> {
    let secret = match (c, cx.credential) {
        (Connector::Email, None) => None,
        _ => Some(secret(cx, rt).await?),
    };
    let data = rt
        .connectors
        .step(c, fields, scope, cx, rt.limits, secret.as_deref())
        .await?;
    Ok(Outcome {
        emitted: vec![data],
        ..Outcome::default()
    })
}

/// The secret the node names, resolved through the secret service.
async fn secret(cx: &StepContext<'_>, rt: &Runtime) -> Result<Arc<SecretValue>, StepError> {
    let Some(step) = cx.credential else {
        return Err(StepError::new(
            "ConfigurationError",
            format!("node {}: credentials_id is required", cx.node_id),
        ));
    };
    let Some(credentials) = &rt.credentials else {
        return Err(StepError::new(
            "CredentialError",
            "no secret service is configured",
        ));
    };
    credentials.secret(step).await
}

/// A MIXED secret's `url`.
fn url_of(secret: &SecretValue) -> Result<String, StepError> {
    if secret.kind != "MIXED" {
        return Err(StepError::new(
            "CredentialError",
            format!("the secret is {}, not MIXED with a url", secret.kind),
        ));
    }
    secret
        .payload()
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| StepError::new("CredentialError", "the MIXED secret's payload has no url"))
}

/// `fields.<name>` rendered (`{{ }}` templates) against the message; `None` when absent or null.
fn rendered(
    fields: &Value,
    name: &str,
    scope: Scope<'_>,
    limits: expr::Limits,
) -> Result<Option<Value>, StepError> {
    match fields.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => expr::render(v, scope, limits)
            .map(Some)
            .map_err(|m| StepError::new("ExpressionError", format!("fields.{name}: {m}"))),
    }
}

/// `fields.timeoutMs`, else `default_ms`, at least 1 ms and at most an hour.
fn timeout_of(fields: &Value, default_ms: u64) -> std::time::Duration {
    let ms = fields
        .get("timeoutMs")
        .and_then(Value::as_u64)
        .unwrap_or(default_ms);
    std::time::Duration::from_millis(ms.clamp(1, 3_600_000))
}

/// `text` with every occurrence of the secret parts of `url` (the whole URL, its password) replaced by `***`.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "***");
    if let Ok(parsed) = reqwest::Url::parse(url) {
        if let Some(p) = parsed.password().filter(|p| p.len() >= 3) {
            out = out.replace(p, "***");
            if let Ok(decoded) = urlencoding_decode(p) {
                if decoded.len() >= 3 {
                    out = out.replace(&decoded, "***");
                }
            }
        }
    }
    out
}

/// Percent-decodes a URL component.
fn urlencoding_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_the_url_and_its_password() {
        let url = "postgres://app:s%40cret-1@db.internal:5432/app";
        let text = format!("failed: {url} / password s@cret-1 / s%40cret-1");
        let out = scrub(&text, url);
        assert!(!out.contains("cret-1"), "{out}");
    }
}
