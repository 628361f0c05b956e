//! `amqp.consume`, a trigger: every replica of the execution service runs one consumer per started flow whose
//! trigger it is (competing consumers on the flow's queue, so the messages spread over replicas). Each message
//! becomes a `flow.execute` on FlowMate's durable work queue and is acked only once that publish is confirmed; a
//! failed publish requeues it. A message with a `message-id` gets an execution id derived from the flow and that
//! id, so a redelivery after a crash between the publish and the ack finds its execution instead of starting a
//! second one (without a `message-id` a redelivery can start the flow twice). The set of consumers follows the
//! running flows (polled every [`POLL`]; a new version of a consumer flow gets a new consumer): a stopped flow's
//! consumer closes its channel and the broker requeues what it had not acked.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use flowmate_bus::SharedBus;
use flowmate_domain::{
    event::types,
    execution::{TriggerInfo, WorkItem},
    flow::Node,
    Envelope, ExecutionId,
};
use futures::StreamExt;
use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions},
    types::{AMQPValue, FieldTable},
    Connection, ConnectionProperties,
};
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{scrub, url_of};
use crate::{credentials::Credentials, model::ExecutionStore, plan::Plan, registry::Registry, SOURCE};

/// How often the consumers are matched against the running flows.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a running flow found not to start with amqp.consume is not looked at again.
const RECLASSIFY: Duration = Duration::from_secs(30);
/// The wait before a consumer whose broker failed connects again.
const RECONNECT: Duration = Duration::from_secs(2);
/// How a consumer refused for good starts its reason.
const REFUSED: &str = "refused";
/// The largest message taken; a larger one is rejected (dead-lettered where the queue has a dead-letter exchange).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The trigger's fields, for `GET /components`.
pub fn fields() -> Value {
    json!({
        "queue": "the queue to consume (required; FlowMate does not declare it)",
        "prefetch": "number (default 16): unacknowledged messages per consumer",
        "credentials_id (on the node)": "a MIXED secret whose payload is {\"url\": \"amqp://user:pass@host:5672/vhost\"}"})
}

/// The start-time check of an `amqp.consume` trigger node.
pub fn check(node: &Node) -> Result<(), String> {
    if node
        .credentials_id
        .as_deref()
        .is_none_or(|id| id.trim().is_empty())
    {
        return Err("amqp.consume needs credentials_id: a MIXED secret whose payload holds {\"url\"}".into());
    }
    node.fields
        .get("queue")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or("fields.queue is required")?;
    match node.fields.get("prefetch") {
        None | Some(Value::Null) => Ok(()),
        Some(p) if p.as_u64().is_some_and(|p| (1..=1000).contains(&p)) => Ok(()),
        Some(_) => Err("fields.prefetch must be a number from 1 to 1000".into()),
    }
}

fn is_consumer(plan: &Plan) -> bool {
    plan.nodes
        .get(&plan.trigger)
        .is_some_and(|n| n.node.component_id == "amqp" && n.node.function == "consume")
}

/// Keeps one consumer per running `amqp.consume` flow until `shutdown`.
pub fn start(
    store: Arc<dyn ExecutionStore>,
    registry: Arc<Registry>,
    credentials: Arc<Credentials>,
    bus: SharedBus,
    bus_url: Option<&str>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let platform: Arc<Option<String>> = Arc::new(bus_url.and_then(super::amqp::broker_key));
    tokio::spawn(async move {
        let mut running: HashMap<String, (i64, CancellationToken)> = HashMap::new();
        // Which running flows start with amqp.consume, and since when that is known: other flows are looked at
        // again only every RECLASSIFY (or once they stopped and started again), so many running flows cost one
        // query per poll.
        let mut known: HashMap<String, (bool, Instant)> = HashMap::new();
        loop {
            if let Ok(ids) = store.running_ids().await {
                let ids: HashSet<String> = ids.into_iter().collect();
                known.retain(|id, (_, at)| ids.contains(id) && at.elapsed() < RECLASSIFY);
                let mut wanted: HashMap<String, Arc<Plan>> = HashMap::new();
                for id in ids {
                    if known.get(&id).is_some_and(|(consumer, _)| !consumer) {
                        continue;
                    }
                    if let Ok(plan) = registry.get(&id).await {
                        let consumer = plan.as_ref().is_some_and(|p| is_consumer(p));
                        known.entry(id.clone()).or_insert((consumer, Instant::now()));
                        if let Some(plan) = plan.filter(|_| consumer) {
                            wanted.insert(id, plan);
                        }
                    }
                }
                running.retain(|id, (version, stop)| {
                    let keep = wanted.get(id).is_some_and(|p| p.flow.version == *version);
                    if !keep {
                        stop.cancel();
                    }
                    keep
                });
                for (id, plan) in wanted {
                    if running.contains_key(&id) {
                        continue;
                    }
                    let stop = shutdown.child_token();
                    running.insert(id, (plan.flow.version, stop.clone()));
                    tokio::spawn(consume(
                        plan,
                        credentials.clone(),
                        bus.clone(),
                        platform.clone(),
                        stop,
                    ));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

/// One flow's consumer: connects, consumes until stopped, and connects again after a failure.
async fn consume(
    plan: Arc<Plan>,
    credentials: Arc<Credentials>,
    bus: SharedBus,
    platform: Arc<Option<String>>,
    stop: CancellationToken,
) {
    let flow_id = plan.flow.id.to_string();
    loop {
        match consume_once(&plan, &credentials, &bus, platform.as_deref(), &stop).await {
            Err(e) if e.starts_with(REFUSED) => {
                tracing::error!(flow_id = %flow_id, error = %e, "amqp.consume: the flow's queue is not consumed");
                return;
            }
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(flow_id = %flow_id, error = %e, "amqp.consume: the consumer failed; connecting again")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

async fn consume_once(
    plan: &Plan,
    credentials: &Credentials,
    bus: &SharedBus,
    platform: Option<&str>,
    stop: &CancellationToken,
) -> Result<(), String> {
    let node = plan.nodes.get(&plan.trigger).ok_or("the flow has no trigger")?;
    let step = node.credential.as_ref().ok_or("the trigger names no secret")?;
    let url = url_of(&*credentials.secret(step).await.map_err(|e| e.message)?).map_err(|e| e.message)?;
    if super::amqp::refuse_platform(platform, &url).is_err() {
        return Err(format!(
            "{REFUSED}: the secret names FlowMate's own broker and vhost"
        ));
    }
    let queue = node
        .node
        .fields
        .get("queue")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let prefetch = node
        .node
        .fields
        .get("prefetch")
        .and_then(Value::as_u64)
        .unwrap_or(16)
        .clamp(1, 1000) as u16;
    let hide = |e: lapin::Error| scrub(&e.to_string(), &url);
    let properties = ConnectionProperties::default().with_connection_name("flowmate-amqp-consume".into());
    let connection = tokio::time::timeout(Duration::from_secs(10), Connection::connect(&url, properties))
        .await
        .map_err(|_| "connecting to the broker timed out".to_owned())?
        .map_err(hide)?;
    let channel = connection.create_channel().await.map_err(hide)?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(hide)?;
    let tag = format!("flowmate-{}-{}", plan.flow.id, uuid::Uuid::new_v4().simple());
    let mut consumer = channel
        .basic_consume(queue, &tag, BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(hide)?;
    tracing::info!(flow_id = %plan.flow.id, queue, "amqp.consume: consuming");
    let result = loop {
        let delivery = tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            next = consumer.next() => match next {
                None => break Err("the broker ended the consumer".to_owned()),
                Some(Err(e)) => break Err(hide(e)),
                Some(Ok(d)) => d,
            },
        };
        if delivery.data.len() > MAX_BODY {
            tracing::warn!(flow_id = %plan.flow.id, bytes = delivery.data.len(), "amqp.consume: message too large; rejected");
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..BasicNackOptions::default()
                })
                .await;
            continue;
        }
        match bus.publish(&trigger(plan, queue, &delivery)).await {
            Ok(()) => delivery.ack(BasicAckOptions::default()).await.map_err(hide)?,
            Err(e) => {
                tracing::warn!(flow_id = %plan.flow.id, error = %e, "amqp.consume: queueing the trigger failed; requeued");
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let _ = channel.close(200, "flow stopped").await;
    let _ = connection.close(200, "flow stopped").await;
    result
}

/// An AMQP header value as JSON (text, numbers, booleans; anything else as its debug text).
fn header_value(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::LongString(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Value::String(s.to_string()),
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        other => Value::String(format!("{other:?}")),
    }
}

/// The `flow.execute` of one message.
fn trigger(plan: &Plan, queue: &str, d: &Delivery) -> Envelope {
    let message_id = d.properties.message_id().as_ref().map(|m| m.to_string());
    let id = match &message_id {
        Some(m) => {
            let digest =
                ring::digest::digest(&ring::digest::SHA256, format!("{}\n{m}", plan.flow.id).as_bytes());
            // A UUID (version 8: custom) made of the digest, so the id is well-formed for the API (API.md §1).
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest.as_ref()[..16]);
            bytes[6] = (bytes[6] & 0x0f) | 0x80;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            ExecutionId::parse(&uuid::Uuid::from_bytes(bytes).to_string())
                .unwrap_or_else(|_| ExecutionId::new())
        }
        None => ExecutionId::new(),
    };
    let data = serde_json::from_slice::<Value>(&d.data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&d.data).into_owned()));
    let headers: Map<String, Value> = d
        .properties
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .iter()
                .map(|(k, v)| (k.to_string(), header_value(v)))
                .collect()
        })
        .unwrap_or_default();
    let message = json!({
        "id": id, "data": data, "attachments": {}, "headers": headers,
        "metadata": {"source": {"name": "amqp", "type": "amqp", "externalExecId": id, "queue": queue,
                                "exchange": d.exchange.as_str(), "routingKey": d.routing_key.as_str(),
                                "messageId": message_id, "redelivered": d.redelivered}},
    });
    let item = WorkItem {
        execution_id: id,
        flow_id: plan.flow.id.clone(),
        trigger: TriggerInfo {
            kind: "amqp".into(),
            request_id: message_id,
            retry_of: None,
        },
        message,
        user: None,
        reply_to: None,
        parent: None,
    };
    Envelope::new(
        types::FLOW_EXECUTE,
        SOURCE,
        serde_json::to_value(item).unwrap_or_default(),
    )
    .with_tenant(&plan.flow.body.tenant)
}
