//! How an envelope travels over AMQP: JSON body, persistent delivery, `traceparent` and `x-attempt` headers.

use lapin::{
    types::{AMQPValue, FieldTable},
    BasicProperties,
};

use crate::{BusError, Envelope};

/// The attempt number of a copy (1 for a fresh publish).
pub(super) const ATTEMPT_HEADER: &str = "x-attempt";
/// The W3C trace context of the producer.
pub(super) const TRACEPARENT_HEADER: &str = "traceparent";
/// Why a message was dead-lettered, for operators reading the queue.
pub(super) const REASON_HEADER: &str = "x-dead-letter-reason";

/// AMQP delivery mode 2: the broker writes the message to disk in a durable queue.
const PERSISTENT: u8 = 2;

/// The JSON body of an envelope.
pub(super) fn encode(envelope: &Envelope) -> Result<Vec<u8>, BusError> {
    serde_json::to_vec(envelope)
        .map_err(|e| BusError::Invalid(format!("cannot encode event {}: {e}", envelope.id)))
}

/// Properties of a fresh publish.
pub(super) fn properties(envelope: &Envelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = envelope.traceparent.as_deref() {
        headers.insert(
            TRACEPARENT_HEADER.into(),
            AMQPValue::LongString(traceparent.into()),
        );
    }
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(1));
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type("application/json".into())
        .with_message_id(envelope.id.as_str().into())
        .with_headers(headers)
}

/// The properties of a copy of a received message, with one header set.
pub(super) fn with_header(properties: &BasicProperties, name: &str, value: AMQPValue) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(name.into(), value);
    properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(PERSISTENT)
}

/// The attempt number a message carries; 1 when the header is missing or not a positive integer.
pub(super) fn attempt_of(properties: &BasicProperties) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(ATTEMPT_HEADER))
        .and_then(integer_of);
    value.and_then(|n| u32::try_from(n).ok()).unwrap_or(1).max(1)
}

fn integer_of(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_publish_is_persistent_attempt_one_and_carries_the_traceparent() {
        let mut envelope = Envelope::new("iam.user.created", "test", serde_json::json!({}));
        envelope.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
        let props = properties(&envelope);
        assert_eq!(props.delivery_mode(), &Some(PERSISTENT));
        assert_eq!(attempt_of(&props), 1);
        let headers = props.headers().clone().unwrap_or_default();
        let traceparent = headers
            .inner()
            .get(TRACEPARENT_HEADER)
            .and_then(|v| v.as_long_string());
        assert_eq!(traceparent.map(|v| v.to_string()), envelope.traceparent);
    }

    #[test]
    fn a_copy_keeps_other_headers_and_replaces_the_attempt() {
        let envelope = Envelope::new("k", "test", serde_json::json!({}));
        let copy = with_header(&properties(&envelope), ATTEMPT_HEADER, AMQPValue::LongLongInt(3));
        assert_eq!(attempt_of(&copy), 3);
        assert_eq!(
            copy.message_id().as_ref().map(|id| id.as_str()),
            Some(envelope.id.as_str())
        );
        let odd = with_header(&copy, ATTEMPT_HEADER, AMQPValue::LongString("x".into()));
        assert_eq!(attempt_of(&odd), 1);
    }
}
