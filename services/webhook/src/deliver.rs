//! One incoming webhook, start to finish (API.md §5, ARCHITECTURE.md "How a webhook becomes an execution"):
//! the flow must be active (from memory), the caller authenticated when the flow asks for it, within the flow's
//! rate; the body parsed into the trigger message; the Idempotency-Key honoured; and the trigger published with
//! the broker's confirmation before the caller hears 200. Sync calls wait for the execution's reply.

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
    flows::{ActiveFlows, HookFlow},
    limits::RateLimits,
    parse::{self, BodyError},
    replies::Replies,
    store::{Claim, IdempotencyRecords},
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
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    fn error(status: u16, message: &str) -> Reply {
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
    /// Where triggers go.
    pub bus: SharedBus,
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
}

/// Headers never passed on to the flow (credentials).
const STRIPPED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

fn outcome(kind: &'static str) {
    metrics::counter!("flowmate_webhooks_total", "outcome" => kind).increment(1);
}

impl Webhooks {
    /// Handles one webhook and returns the answer.
    pub async fn deliver(&self, req: Incoming) -> Reply {
        // Until the active flows and identity's keys are loaded, a 404 or 403 could be wrong: ask to retry.
        if !self.warmed.load(std::sync::atomic::Ordering::Acquire) || !self.verifier.has_keys() {
            outcome("not_ready");
            let mut reply = Reply::error(503, "Webhooks are starting up. Try again in a moment.");
            reply.headers.push(("retry-after".into(), "1".into()));
            return reply;
        }
        let not_found = || {
            Reply::error(
                404,
                &format!("Flow {} either does not exist or is inactive.", req.flow_id),
            )
        };
        let Some(flow) = self.flows.get(&req.flow_id).filter(|f| f.webhook_trigger) else {
            outcome("not_found");
            return not_found();
        };
        if req.body.len() > self.defaults.body_limit_bytes {
            outcome("too_large");
            return Reply::error(413, "Request body is too large");
        }
        if flow.settings.require_auth {
            let body: &[u8] = if req.method == "POST" { &req.body } else { &[] };
            if let Err(refusal) = auth::check(&flow, body, |h| req.header(h), &self.verifier) {
                outcome("forbidden");
                return Reply::error(403, refusal.message());
            }
        }
        if req.method == "HEAD" {
            return Reply {
                status: 200,
                headers: vec![],
                body: vec![],
            };
        }
        if let Some((per_second, burst)) = flow.settings.rate_limit.or(self.defaults.rate_limit) {
            if let Err(wait) = self.limits.take(&flow.id, per_second, burst) {
                outcome("rate_limited");
                let mut reply = Reply::error(429, "Too many requests for this flow. Try again later.");
                reply.headers.push((
                    "retry-after".into(),
                    wait.as_secs_f64().ceil().max(1.0).to_string(),
                ));
                return reply;
            }
        }
        let query = parse::query(&req.query);
        let data = if req.method == "GET" {
            query.clone()
        } else {
            match parse::body(req.header("content-type"), &req.body) {
                Ok(data) => data,
                Err(BodyError::Unsupported(m)) => {
                    outcome("unsupported");
                    return Reply::error(415, &m);
                }
                Err(BodyError::Malformed(m)) => {
                    outcome("malformed");
                    return Reply::error(400, &m);
                }
            }
        };
        let mut request_id = Id::parse(&req.request_id)
            .map(Id::into_string)
            .unwrap_or_else(|_| Id::new().into_string());
        let key = req.header("idempotency-key").map(str::to_owned);
        if let Some(key) = &key {
            if key.is_empty() || key.len() > 255 {
                return Reply::error(400, "Idempotency-Key must be 1 to 255 characters");
            }
            match self.idempotency.claim(&flow.id, key, &request_id).await {
                Ok(Claim::New) => {}
                Ok(Claim::TakeOver(first)) => request_id = first,
                Ok(Claim::Replay(mut reply)) => {
                    outcome("replayed");
                    reply.headers.push(("idempotency-replayed".into(), "true".into()));
                    return reply;
                }
                Ok(Claim::InProgress) => {
                    return Reply::error(
                        409,
                        "A request with this Idempotency-Key is still being processed",
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "idempotency records unavailable");
                    return Reply::error(
                        503,
                        "Service unavailable; the request was not accepted. Try again.",
                    );
                }
            }
        }
        let sync = flow.settings.sync
            || query
                .get("sync")
                .and_then(Value::as_str)
                .is_some_and(|v| v == "true" || v == "1");
        let reply = self.accept(&flow, &req, data, query, &request_id, sync).await;
        if let Some(key) = &key {
            // A 503 may still have reached the broker (a lost confirm): the key keeps its request id, and a repeat
            // publishes again under it at once — the engine runs one execution per id.
            let stored = if reply.status == 503 {
                self.idempotency.unconfirmed(&flow.id, key).await
            } else {
                self.idempotency.complete(&flow.id, key, &reply).await
            };
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not record the Idempotency-Key answer");
            }
        }
        reply
    }

    /// Publishes the trigger (confirmed) and answers: 200 at once, or the execution's result when `sync`.
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
        let data = match serde_json::to_value(&item) {
            Ok(d) => d,
            Err(_) => return Reply::error(500, "internal error"),
        };
        let event = Envelope::new(types::FLOW_EXECUTE, SOURCE, data).with_tenant(flow.tenant.clone());
        let waiting = sync.then(|| self.replies.wait(request_id));
        if let Err(e) = self.bus.publish(&event).await {
            tracing::error!(error = %e, flow_id = %flow.id, "webhook not accepted: the trigger could not be queued");
            outcome("unavailable");
            return Reply::error(
                503,
                "Service unavailable; the request was not accepted. Try again.",
            );
        }
        let Some(waiting) = waiting else {
            outcome("accepted");
            return Reply::json(
                200,
                &json!({"data": {"requestId": request_id, "message": "thank you"}}),
            );
        };
        let limit = flow.settings.sync_timeout.unwrap_or(self.defaults.sync_timeout);
        let mut waiting = waiting;
        match tokio::time::timeout(limit, &mut waiting.result).await {
            Ok(Ok(result)) => {
                outcome("answered");
                sync_reply(&result, request_id)
            }
            _ => {
                outcome("still_running");
                Reply::json(
                    202,
                    &json!({"data": {"requestId": request_id, "status": "running",
                                     "statusUrl": format!("/executions/{request_id}")}}),
                )
            }
        }
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

/// The answer of a sync webhook: the `respond` step's status, headers and body, else the last step's data.
fn sync_reply(result: &Value, request_id: &str) -> Reply {
    if let Some(response) = result.get("response").filter(|r| r.is_object()) {
        let status = response
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..600).contains(s))
            .unwrap_or(200);
        let mut headers: Vec<(String, String)> = response
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                        (k.to_ascii_lowercase(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A flow decides its reply's body, not the API origin's security: no cookies, no hop-by-hop headers, and
        // the content is sandboxed so it can never run as a page of this origin.
        headers.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "set-cookie"
                    | "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "upgrade"
                    | "content-length"
                    | "trailer"
                    | "te"
                    | "content-security-policy"
                    | "x-content-type-options"
            )
        });
        headers.push(("x-content-type-options".into(), "nosniff".into()));
        headers.push(("content-security-policy".into(), "sandbox".into()));
        let has_type = headers.iter().any(|(k, _)| k == "content-type");
        let body = match response.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => {
                if !has_type {
                    headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
                }
                s.clone().into_bytes()
            }
            Some(other) => {
                if !has_type {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                other.to_string().into_bytes()
            }
        };
        return Reply {
            status,
            headers,
            body,
        };
    }
    if result.get("status").and_then(Value::as_str) == Some("succeeded") {
        return Reply::json(200, result.get("output").unwrap_or(&Value::Null));
    }
    Reply::error(
        500,
        &format!("Execution {request_id} failed. See /executions/{request_id}."),
    )
}
