//! `amqp.publish`: publishes the step's `data` as JSON to `fields.exchange` with `fields.routingKey` on the
//! broker a MIXED secret names (`{"url": "amqp://…"}`), mandatory and with publisher confirms: a nack, an
//! unroutable message (returned) or an unknown exchange fails the step. One connection and confirming channel
//! per broker URL is kept per replica (at most [`MAX_BROKERS`]) and opened again once it breaks.

use std::{collections::HashMap, sync::Arc, time::Duration};

use lapin::{
    options::{BasicPublishOptions, ConfirmSelectOptions},
    publisher_confirm::Confirmation,
    BasicProperties, Channel, Connection, ConnectionProperties,
};
use serde_json::{json, Value};

use super::{rendered, scrub, timeout_of, url_of, StepContext};
use crate::{
    credentials::SecretValue,
    expr::{Limits, Scope},
    model::StepError,
};

/// The most brokers one replica keeps a connection to.
const MAX_BROKERS: usize = 16;
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The longest connecting may take.
const CONNECT: Duration = Duration::from_secs(10);

struct Link {
    _connection: Connection,
    channel: Channel,
}

/// The broker channels of this replica, by a SHA-256 of the URL.
#[derive(Default)]
pub struct Channels {
    links: tokio::sync::Mutex<HashMap<String, Arc<Link>>>,
    /// FlowMate's own broker and vhost ([`broker_key`]), which steps may not use.
    pub(super) platform: Option<String>,
}

/// Where an AMQP URL leads, as `host:port/vhost` (loopback names alike, the default port and vhost filled in), to
/// recognise FlowMate's own broker and vhost.
pub fn broker_key(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let tls = match u.scheme() {
        "amqp" => false,
        "amqps" => true,
        _ => return None,
    };
    let host = u.host_str()?.to_ascii_lowercase();
    let host = match host.as_str() {
        "localhost" | "127.0.0.1" | "[::1]" | "::1" => "loopback".to_owned(),
        _ => host,
    };
    let port = u.port().unwrap_or(if tls { 5671 } else { 5672 });
    let path = u.path().trim_start_matches('/');
    let vhost = if path.is_empty() {
        "/".to_owned()
    } else {
        super::urlencoding_decode(path).unwrap_or_else(|_| path.to_owned())
    };
    Some(format!("{host}:{port}/{vhost}"))
}

/// Refuses FlowMate's own broker and vhost: a flow could otherwise read or forge the platform's own messages.
pub fn refuse_platform(platform: Option<&str>, url: &str) -> Result<(), StepError> {
    match (platform, broker_key(url)) {
        (Some(p), Some(k)) if p == k => Err(amqp_error(
            "the secret names FlowMate's own broker and vhost, which flows may not use (give them a vhost of their own)",
        )),
        _ => Ok(()),
    }
}

fn amqp_error(m: impl Into<String>) -> StepError {
    StepError::new("AmqpError", m)
}

impl Channels {
    async fn channel(&self, url: &str) -> Result<Channel, StepError> {
        refuse_platform(self.platform.as_deref(), url)?;
        let key: String = ring::digest::digest(&ring::digest::SHA256, url.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        {
            let mut links = self.links.lock().await;
            if let Some(link) = links.get(&key) {
                if link.channel.status().connected() {
                    return Ok(link.channel.clone());
                }
                links.remove(&key);
            }
        }
        // Connecting happens outside the lock, so a slow broker does not hold up steps publishing elsewhere (two
        // steps may both connect; the later one's link is kept).
        let opening = async {
            let properties =
                ConnectionProperties::default().with_connection_name("flowmate-amqp-step".into());
            let connection = Connection::connect(url, properties).await?;
            let channel = connection.create_channel().await?;
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
            Ok::<_, lapin::Error>(Link {
                _connection: connection,
                channel,
            })
        };
        let link = tokio::time::timeout(CONNECT, opening)
            .await
            .map_err(|_| amqp_error("connecting to the broker timed out"))?
            .map_err(|e| {
                amqp_error(format!(
                    "cannot connect to the broker: {}",
                    scrub(&e.to_string(), url)
                ))
            })?;
        let mut links = self.links.lock().await;
        if links.len() >= MAX_BROKERS {
            links.clear();
        }
        let channel = link.channel.clone();
        links.insert(key, Arc::new(link));
        Ok(channel)
    }
}

/// A rendered text field.
fn text(fields: &Value, name: &str, scope: Scope<'_>, limits: Limits) -> Result<String, StepError> {
    Ok(match rendered(fields, name, scope, limits)? {
        None => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    })
}

/// `amqp.publish` of the step's data.
pub async fn publish(
    channels: &Channels,
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    limits: Limits,
    secret: &SecretValue,
) -> Result<Value, StepError> {
    let url = url_of(secret)?;
    let exchange = text(fields, "exchange", scope, limits)?;
    let routing_key = text(fields, "routingKey", scope, limits)?;
    if routing_key.is_empty() {
        return Err(StepError::new(
            "ConfigurationError",
            format!("node {}: fields.routingKey is required", cx.node_id),
        ));
    }
    let persistent = fields.get("persistent").and_then(Value::as_bool).unwrap_or(true);
    let timeout = timeout_of(fields, DEFAULT_TIMEOUT_MS);
    let body = serde_json::to_vec(scope.data).map_err(|e| amqp_error(e.to_string()))?;
    let channel = channels.channel(&url).await?;
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(if persistent { 2 } else { 1 })
        .with_message_id(format!("{}:{}:{}", cx.execution_id, cx.node_id, cx.attempt).into());
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let publishing = async {
        let confirm = channel
            .basic_publish(&exchange, &routing_key, options, &body, properties)
            .await?;
        confirm.await
    };
    let confirmation = tokio::time::timeout(timeout, publishing)
        .await
        .map_err(|_| {
            StepError::new(
                "Timeout",
                format!("the broker did not confirm within {} ms", timeout.as_millis()),
            )
        })?
        .map_err(|e| amqp_error(format!("publishing failed: {}", scrub(&e.to_string(), &url))))?;
    match confirmation {
        Confirmation::Ack(None) => Ok(json!({"exchange": exchange, "routingKey": routing_key, "confirmed": true})),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(amqp_error(format!(
            "the broker returned the message: {} {} (no queue is bound to exchange \"{exchange}\" with routing key \"{routing_key}\")",
            returned.reply_code, returned.reply_text
        ))),
        Confirmation::Nack(None) => Err(amqp_error("the broker refused (nacked) the message")),
        Confirmation::NotRequested => Err(amqp_error("publisher confirms are off on this channel")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_broker_is_recognised_however_it_is_spelt() {
        let platform = broker_key("amqp://flowmate:pw@localhost:5672/%2f");
        assert_eq!(platform.as_deref(), Some("loopback:5672//"));
        for same in [
            "amqp://other:x@127.0.0.1/%2f",
            "amqp://u@LOCALHOST:5672",
            "amqp://[::1]:5672/%2F",
        ] {
            assert!(refuse_platform(platform.as_deref(), same).is_err(), "{same}");
        }
        for other in [
            "amqp://u@127.0.0.1:5672/tenant-a",
            "amqp://u@mq.example.com/%2f",
            "amqps://u@127.0.0.1/%2f",
        ] {
            assert!(refuse_platform(platform.as_deref(), other).is_ok(), "{other}");
        }
        assert!(refuse_platform(None, "amqp://u@127.0.0.1/%2f").is_ok());
    }
}
