//! `email.send`: one message over SMTP (`lettre` on tokio, TLS by rustls): `fields.host`/`port`/`tls`
//! (`starttls` default: STARTTLS required; `tls`: implicit TLS; `none`: plain, for a trusted local relay), and
//! `from`, `to`, `cc`, `subject`, `text`, `html` templated from the message. A node's SIMPLE secret
//! (`username`, `passphrase`) logs in with SMTP AUTH. Emits `{"messageId", "accepted", "response"}`.

use std::time::Duration;

use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use serde_json::{json, Value};

use super::{rendered, timeout_of, StepContext};
use crate::{
    credentials::SecretValue,
    expr::{Limits, Scope},
    model::StepError,
};

const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The most recipients (to + cc) of one message.
const MAX_RECIPIENTS: usize = 100;

fn bad(m: impl Into<String>) -> StepError {
    StepError::new("EmailError", m)
}

/// The start-time check of `fields.tls` and `fields.port`.
pub fn check_fields(fields: &Value) -> Result<(), String> {
    match fields.get("tls") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if matches!(t.as_str(), "none" | "starttls" | "tls") => {}
        Some(_) => return Err("fields.tls must be none, starttls or tls".into()),
    }
    match fields.get("port") {
        None | Some(Value::Null) => Ok(()),
        Some(p) if p.as_u64().is_some_and(|p| (1..=65535).contains(&p)) => Ok(()),
        Some(_) => Err("fields.port must be a port number".into()),
    }
}

/// A rendered field as text (`None`: absent).
fn text_of(
    fields: &Value,
    name: &str,
    scope: Scope<'_>,
    limits: Limits,
) -> Result<Option<String>, StepError> {
    Ok(rendered(fields, name, scope, limits)?.map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    }))
}

/// A rendered address list: a string (commas separate several) or an array of strings.
fn mailboxes(
    fields: &Value,
    name: &str,
    scope: Scope<'_>,
    limits: Limits,
) -> Result<Vec<Mailbox>, StepError> {
    let texts: Vec<String> = match rendered(fields, name, scope, limits)? {
        None => vec![],
        Some(Value::String(s)) => s
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                _ => Err(bad(format!("fields.{name} must hold addresses (strings)"))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(format!(
                "fields.{name} must be an address or an array of addresses"
            )))
        }
    };
    texts
        .iter()
        .map(|t| {
            t.parse::<Mailbox>()
                .map_err(|_| bad(format!("fields.{name}: \"{t}\" is not an email address")))
        })
        .collect()
}

/// The message the fields describe.
fn message(fields: &Value, scope: Scope<'_>, limits: Limits) -> Result<(Message, Vec<String>), StepError> {
    let from = text_of(fields, "from", scope, limits)?.ok_or_else(|| bad("fields.from is required"))?;
    let from: Mailbox = from
        .parse()
        .map_err(|_| bad(format!("fields.from: \"{from}\" is not an email address")))?;
    let to = mailboxes(fields, "to", scope, limits)?;
    let cc = mailboxes(fields, "cc", scope, limits)?;
    if to.is_empty() {
        return Err(bad("fields.to names no recipient"));
    }
    if to.len() + cc.len() > MAX_RECIPIENTS {
        return Err(bad(format!("at most {MAX_RECIPIENTS} recipients (to and cc)")));
    }
    let accepted: Vec<String> = to.iter().chain(&cc).map(|m| m.email.to_string()).collect();
    let mut builder = Message::builder().from(from).message_id(None);
    for m in to {
        builder = builder.to(m);
    }
    for m in cc {
        builder = builder.cc(m);
    }
    // lettre encodes the subject (RFC 2047) and rejects line breaks in headers.
    builder = builder.subject(text_of(fields, "subject", scope, limits)?.unwrap_or_default());
    let text = text_of(fields, "text", scope, limits)?;
    let html = text_of(fields, "html", scope, limits)?;
    let built = match (text, html) {
        (Some(t), Some(h)) => builder.multipart(MultiPart::alternative_plain_html(t, h)),
        (None, Some(h)) => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(h)),
        (t, None) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(t.unwrap_or_default()),
        ),
    };
    Ok((
        built.map_err(|e| bad(format!("the message cannot be built: {e}")))?,
        accepted,
    ))
}

/// The transport to the node's server.
fn transport(
    fields: &Value,
    scope: Scope<'_>,
    limits: Limits,
    secret: Option<&SecretValue>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, StepError> {
    let host = text_of(fields, "host", scope, limits)?
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("fields.host is required"))?;
    let tls = fields.get("tls").and_then(Value::as_str).unwrap_or("starttls");
    let port = fields.get("port").and_then(Value::as_u64).map(|p| p as u16);
    let params = || TlsParameters::new(host.clone()).map_err(|e| bad(format!("TLS setup failed: {e}")));
    let (tls, default_port) = match tls {
        "none" => (Tls::None, 25),
        "tls" => (Tls::Wrapper(params()?), 465),
        _ => (Tls::Required(params()?), 587),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(s) = secret {
        if s.kind != "SIMPLE" {
            return Err(StepError::new(
                "CredentialError",
                format!("email.send takes a SIMPLE secret, not {}", s.kind),
            ));
        }
        builder = builder.credentials(Credentials::new(
            s.text("username").unwrap_or_default().to_owned(),
            s.text("passphrase").unwrap_or_default().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// `email.send` on the message.
pub async fn run(
    fields: &Value,
    scope: Scope<'_>,
    _cx: &StepContext<'_>,
    limits: Limits,
    secret: Option<&SecretValue>,
) -> Result<Value, StepError> {
    let timeout = timeout_of(fields, DEFAULT_TIMEOUT_MS);
    let (message, accepted) = message(fields, scope, limits)?;
    let message_id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or_default()
        .to_owned();
    let mailer = transport(fields, scope, limits, secret, timeout)?;
    let sent = tokio::time::timeout(timeout + Duration::from_secs(1), mailer.send(message)).await;
    let response = match sent {
        Err(_) => {
            return Err(StepError::new(
                "Timeout",
                format!("the SMTP server did not answer within {} ms", timeout.as_millis()),
            ))
        }
        // lettre's errors name the SMTP reply or the connection problem, never the credentials.
        Ok(Err(e)) => return Err(bad(format!("sending failed: {e}"))),
        Ok(Ok(r)) => r,
    };
    Ok(json!({
        "messageId": message_id,
        "accepted": accepted,
        "response": format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")),
    }))
}
