//! One incoming webhook, start to finish (API.md §5, ARCHITECTURE.md "How a webhook becomes an execution"):
//! the flow must be active (from memory), the caller authenticated when the flow asks for it, within the flow's
//! rate; the body parsed into the trigger message; the Idempotency-Key honoured; and the trigger published with
//! the broker's confirmation — or, when the broker cannot confirm, committed to the spool (`queue.rs`) — before the
//! caller hears 200. A sync call of a tenant without a quota is run by the execution service in the call when its
//! flow allows (`direct`: recorded before the answer); any other is published directly and waits for the
//! execution's reply.

use std::{sync::Arc, time::Duration};

use flowmate_auth::Verifier;
use flowmate_bus::SharedBus;
use flowmate_domain::{
    event::types,
    execution::{TriggerInfo, WorkItem},
    Envelope, Id,
};
use serde_json::{json, Map, Value};

use crate::{
    auth,
    direct::{Direct, SyncRuns},
    flows::{ActiveFlows, HookFlow},
    limits::RateLimits,
    parse::{self, BodyError},
    queue::{Queued, Refused, TriggerQueue},
    quotas::{Quotas, Verdict},
    replies::{sync_reply, Replies},
    store::{Claim, IdempotencyRecords},
    throttle::Throttled,
    SOURCE,
};

/// The HTTP answer to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({"errors": [{"message": message, "code": status}]}))
    }
}

/// An incoming webhook as the gateway hands it over.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// From the path.
    pub flow_id: String,
    /// What follows the flow id in the path.
    pub path_suffix: String,
    /// `GET`, `POST` or `HEAD`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The gateway's request id.
    pub request_id: String,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Settings that are the same for every flow.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Larger bodies are refused with 413.
    pub body_limit_bytes: usize,
    /// How long a sync call waits unless the flow says otherwise.
    pub sync_timeout: Duration,
    /// The rate limit of flows that set none (per second, burst); `None`: unlimited.
    pub rate_limit: Option<(f64, u32)>,
}

/// The webhook service's request handling.
pub struct Webhooks {
    /// Active flows.
    pub flows: Arc<ActiveFlows>,
    /// Where sync triggers go (published directly).
    pub bus: SharedBus,
    /// Where other triggers go: published, or spooled when the broker cannot confirm.
    pub triggers: Arc<TriggerQueue>,
    /// Checks bearer tokens.
    pub verifier: Arc<Verifier>,
    /// Per-flow buckets.
    pub limits: RateLimits,
    /// Sync waiters.
    pub replies: Arc<Replies>,
    /// Idempotency-Key records.
    pub idempotency: IdempotencyRecords,
    /// Service-wide settings.
    pub defaults: Defaults,
    /// The active flows have been loaded once (until then no flow can be told inactive).
    pub warmed: Arc<std::sync::atomic::AtomicBool>,
    /// Refused webhooks, logged once a second.
    pub refused_log: Throttled,
    /// Tenant quotas, checked by the execution service.
    pub quotas: Quotas,
    /// Sync triggers run by the execution service in the call (the fast path).
    pub direct: SyncRuns,
}

/// Headers never passed on to the flow (credentials).
const STRIPPED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

fn outcome(kind: &'static str) {
    metrics::counter!("flowmate_webhooks_total", "outcome" => kind).increment(1);
}

/// The 200 of an accepted async webhook.
fn accepted(request_id: &str) -> Reply {
    Reply::json(
        200,
        &json!({"data": {"requestId": request_id, "message": "thank you"}}),
    )
}

/// The 202 of a sync webhook whose execution is still running at the flow's sync timeout.
fn still_running(request_id: &str) -> Reply {
    outcome("still_running");
    Reply::json(
        202,
        &json!({"data": {"requestId": request_id, "status": "running",
                         "statusUrl": format!("/executions/{request_id}")}}),
    )
}

/// The 503 of a webhook that was not accepted: nothing was promised.
fn unavailable() -> Reply {
    let mut reply = Reply::error(
        503,
        "Service unavailable; the request was not accepted. Try again.",
    );
    reply.headers.push(("retry-after".into(), "1".into()));
    reply
}

impl Webhooks {
    /// Handles one webhook and returns the answer.
    pub async fn deliver(&self, req: Incoming) -> Reply {
        let flow = match self.admit(&req) {
            Ok(flow) => flow,
            Err(reply) => return reply,
        };
        if req.method == "HEAD" {
            return Reply {
                status: 200,
                headers: vec![],
                body: vec![],
            };
        }
        if let Err(reply) = self.within_rate(&flow) {
            return reply;
        }
        let query = parse::query(&req.query);
        let data = match self.data(&req, &query) {
            Ok(data) => data,
            Err(reply) => return reply,
        };
        let mut request_id = Id::parse(&req.request_id)
            .map(Id::into_string)
            .unwrap_or_else(|_| Id::new().into_string());
        let key = req.header("idempotency-key").map(str::to_owned);
        if let Some(key) = &key {
            match self.claim(&flow, key, &request_id).await {
                Ok(id) => request_id = id,
                Err(reply) => return reply,
            }
        }
        let sync = flow.settings.sync
            || query
                .get("sync")
                .and_then(Value::as_str)
                .is_some_and(|v| v == "true" || v == "1");
        let reply = self.accept(&flow, &req, data, query, &request_id, sync).await;
        if let Some(key) = &key {
            self.answered(&flow, key, &reply).await;
        }
        reply
    }

    /// The active flow the webhook is for, once the service is warm, the body within the limit and the caller
    /// authenticated when the flow asks for it; else the answer.
    fn admit(&self, req: &Incoming) -> Result<Arc<HookFlow>, Reply> {
        // Until the active flows and identity's keys are loaded, a 404 or 403 could be wrong: ask to retry.
        if !self.warmed.load(std::sync::atomic::Ordering::Acquire) || !self.verifier.has_keys() {
            outcome("not_ready");
            let mut reply = Reply::error(503, "Webhooks are starting up. Try again in a moment.");
            reply.headers.push(("retry-after".into(), "1".into()));
            return Err(reply);
        }
        let Some(flow) = self.flows.get(&req.flow_id).filter(|f| f.webhook_trigger) else {
            outcome("not_found");
            return Err(Reply::error(
                404,
                &format!("Flow {} either does not exist or is inactive.", req.flow_id),
            ));
        };
        if req.body.len() > self.defaults.body_limit_bytes {
            outcome("too_large");
            return Err(Reply::error(413, "Request body is too large"));
        }
        if flow.settings.require_auth {
            let body: &[u8] = if req.method == "POST" { &req.body } else { &[] };
            if let Err(refusal) = auth::check(&flow, body, |h| req.header(h), &self.verifier) {
                outcome("forbidden");
                return Err(Reply::error(403, refusal.message()));
            }
        }
        Ok(flow)
    }

    /// The flow's rate limit (or the default one): a 429 with `Retry-After` past it.
    fn within_rate(&self, flow: &HookFlow) -> Result<(), Reply> {
        let Some((per_second, burst)) = flow.settings.rate_limit.or(self.defaults.rate_limit) else {
            return Ok(());
        };
        self.limits.take(&flow.id, per_second, burst).map_err(|wait| {
            outcome("rate_limited");
            let mut reply = Reply::error(429, "Too many requests for this flow. Try again later.");
            reply.headers.push((
                "retry-after".into(),
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ));
            reply
        })
    }

    /// The trigger's `data`: the query of a GET, else the parsed body (415, 400).
    fn data(&self, req: &Incoming, query: &Value) -> Result<Value, Reply> {
        if req.method == "GET" {
            return Ok(query.clone());
        }
        parse::body(req.header("content-type"), &req.body).map_err(|e| match e {
            BodyError::Unsupported(m) => {
                outcome("unsupported");
                Reply::error(415, &m)
            }
            BodyError::Malformed(m) => {
                outcome("malformed");
                Reply::error(400, &m)
            }
        })
    }

    /// Claims the `Idempotency-Key`: the request id to go ahead with, or the answer (a replay, 409, 400, 503).
    async fn claim(&self, flow: &HookFlow, key: &str, request_id: &str) -> Result<String, Reply> {
        if key.is_empty() || key.len() > 255 {
            return Err(Reply::error(400, "Idempotency-Key must be 1 to 255 characters"));
        }
        match self.idempotency.claim(&flow.id, key, request_id).await {
            Ok(Claim::New) => Ok(request_id.to_owned()),
            Ok(Claim::TakeOver(first)) => Ok(first),
            Ok(Claim::Replay(mut reply)) => {
                outcome("replayed");
                reply.headers.push(("idempotency-replayed".into(), "true".into()));
                Err(reply)
            }
            Ok(Claim::InProgress) => Err(Reply::error(
                409,
                "A request with this Idempotency-Key is still being processed",
            )),
            // Without its records the key cannot be honoured: refused, even if the broker would take the trigger.
            Err(e) => Err(self.refuse(&flow.id, &format!("idempotency records: {e}"))),
        }
    }

    /// Records the answer of a request with an `Idempotency-Key`.
    async fn answered(&self, flow: &HookFlow, key: &str, reply: &Reply) {
        // A 503 may still have reached the broker (a lost confirm): the key keeps its request id, and a repeat
        // publishes again under it at once — the engine runs one execution per id.
        let stored = if reply.status == 503 {
            self.idempotency.unconfirmed(&flow.id, key).await
        } else {
            self.idempotency.complete(&flow.id, key, reply).await
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not record the Idempotency-Key answer");
        }
    }

    /// A webhook not accepted: counted, logged at most once a second (with how many), answered 503.
    fn refuse(&self, flow_id: &str, error: &str) -> Reply {
        outcome("unavailable");
        if let Some(line) = self.refused_log.record(&format!("flow {flow_id}: {error}")) {
            tracing::error!(count = line.count, error = %line.error,
                "webhooks not accepted: the trigger could not be queued");
        }
        unavailable()
    }

    /// Writes the refusal line still owed (called every second).
    pub fn flush_logs(&self) {
        if let Some(line) = self.refused_log.flush() {
            tracing::error!(count = line.count, error = %line.error,
                "webhooks not accepted: the trigger could not be queued");
        }
        self.triggers.flush_logs();
    }

    /// Queues the trigger and answers: 200 once it is published or spooled, or, when `sync`, the execution's
    /// result. A sync webhook is published directly, never spooled: it waits for a reply that travels the broker,
    /// so while the broker cannot confirm it answers 503 (nothing promised) and the caller tries again.
    async fn accept(
        &self,
        flow: &HookFlow,
        req: &Incoming,
        data: Value,
        query: Value,
        request_id: &str,
        sync: bool,
    ) -> Reply {
        let message = self.message(flow, req, data, query, request_id);
        let item = WorkItem {
            execution_id: request_id.into(),
            flow_id: flow.id.as_str().into(),
            trigger: TriggerInfo {
                kind: "webhook".into(),
                request_id: Some(request_id.to_owned()),
                retry_of: None,
            },
            message,
            user: None,
            reply_to: sync.then(|| self.replies.routing_key.clone()),
            parent: None,
        };
        let unlimited = self.quotas.skip(&flow.tenant);
        if sync && unlimited {
            match self.direct.run(&item, self.sync_timeout(flow)).await {
                Direct::Finished(result) => {
                    outcome("answered");
                    return sync_reply(&result, request_id);
                }
                Direct::Running => return still_running(request_id),
                Direct::Queue => {}
            }
        }
        let data = match serde_json::to_value(&item) {
            Ok(d) => d,
            Err(_) => return Reply::error(500, "internal error"),
        };
        let event = Envelope::new(types::FLOW_EXECUTE, SOURCE, data).with_tenant(flow.tenant.clone());
        let mut waiting = sync.then(|| self.replies.wait(request_id));
        if !unlimited {
            match self.quotas.admit(&flow.tenant, &item).await {
                Verdict::Admitted => {
                    return match waiting.as_mut() {
                        Some(w) => self.answer(flow, &mut w.result, request_id).await,
                        None => {
                            outcome("accepted");
                            accepted(request_id)
                        }
                    };
                }
                Verdict::Limited { retry_after, reason } => {
                    outcome("quota");
                    let mut reply = Reply::error(429, &reason);
                    reply
                        .headers
                        .push(("retry-after".into(), retry_after.to_string()));
                    return reply;
                }
                // A quota is not worth refusing work for: the trigger goes the usual, durable way.
                Verdict::Unknown(e) => {
                    tracing::debug!(error = %e, "tenant quota unknown; queuing the trigger")
                }
            }
        }
        let Some(mut waiting) = waiting else {
            return match self.triggers.queue(&event).await {
                Ok(queued) => {
                    outcome(match queued {
                        Queued::Published => "accepted",
                        Queued::Spooled => "spooled",
                    });
                    accepted(request_id)
                }
                Err(Refused(e)) => self.refuse(&flow.id, &e),
            };
        };
        if let Err(e) = self.bus.publish(&event).await {
            return self.refuse(&flow.id, &format!("sync webhook, broker: {e}"));
        }
        self.answer(flow, &mut waiting.result, request_id).await
    }

    /// The answer of a sync webhook: the execution's result, or `202` with where to look once the flow's sync
    /// timeout has passed.
    async fn answer(
        &self,
        flow: &HookFlow,
        result: &mut tokio::sync::oneshot::Receiver<flowmate_domain::event::payload::ExecutionFinished>,
        request_id: &str,
    ) -> Reply {
        match tokio::time::timeout(self.sync_timeout(flow), result).await {
            Ok(Ok(result)) => {
                outcome("answered");
                sync_reply(&result, request_id)
            }
            _ => still_running(request_id),
        }
    }

    /// How long a sync webhook of `flow` waits for its execution.
    fn sync_timeout(&self, flow: &HookFlow) -> Duration {
        flow.settings.sync_timeout.unwrap_or(self.defaults.sync_timeout)
    }

    /// The trigger message of API.md §5.
    fn message(&self, flow: &HookFlow, req: &Incoming, data: Value, query: Value, request_id: &str) -> Value {
        let mut headers = Map::new();
        for (name, value) in &req.headers {
            if STRIPPED.contains(&name.as_str()) || *name == flow.settings.hmac_header {
                continue;
            }
            match headers.get_mut(name) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        let url = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        json!({
            "id": request_id,
            "data": data,
            "attachments": {},
            "headers": headers,
            "method": req.method,
            "url": url,
            "originalUrl": url,
            "query": query,
            "params": {"flowId": flow.id},
            "pathSuffix": req.path_suffix,
            "metadata": {"source": {"name": "webhooks", "type": "webhook", "externalExecId": request_id}},
        })
    }
}
