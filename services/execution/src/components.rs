//! The component catalogue (API.md §6) and what each built-in component does with a message.
//!
//! A component receives the message's `data` (after `nodeSettings.applyTransform` "before") and emits zero or more
//! data values; the engine carries each along the node's edges. Components never see the database: the engine
//! records and checkpoints around them.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};

use crate::{
    credentials::{Credentials, StepCredential},
    expr::{self, Limits, Scope},
    http::HttpCaller,
    model::StepError,
};

/// What a built-in component does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A trigger: emits the trigger message's data.
    Trigger,
    /// `http.request`.
    Http,
    /// `transform.map`.
    Transform,
    /// `filter.check`.
    Filter,
    /// `split.each`.
    Split,
    /// `delay.wait`.
    Delay,
    /// `respond.reply`.
    Respond,
    /// `log.write`.
    Log,
}

impl Kind {
    /// Whether running it again would repeat an effect outside FlowMate (so the engine checkpoints after it).
    pub fn has_side_effects(self) -> bool {
        matches!(self, Kind::Http)
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// `componentId`.
    pub component: &'static str,
    /// `function`.
    pub function: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its behaviour.
    pub kind: Kind,
}

/// The built-in components. (`code.execute` joins once its sandbox exists.)
pub const CATALOGUE: &[Spec] = &[
    Spec { component: "webhook", function: "receive", name: "Webhook", kind: Kind::Trigger,
           description: "Trigger: the incoming webhook's message" },
    Spec { component: "scheduler", function: "tick", name: "Schedule", kind: Kind::Trigger,
           description: "Trigger for cron flows: {sheduledTimestamp, nextSheduledTimestamp}" },
    Spec { component: "manual", function: "run", name: "Manual run", kind: Kind::Trigger,
           description: "Trigger for POST /flows/{id}/run, with the request body as data" },
    Spec { component: "http", function: "request", name: "HTTP request", kind: Kind::Http,
           description: "Calls a URL; status, headers and body become data. Fails on a non-2xx status unless allowErrorStatus" },
    Spec { component: "transform", function: "map", name: "Transform", kind: Kind::Transform,
           description: "data = the JSONata expression's result" },
    Spec { component: "filter", function: "check", name: "Filter", kind: Kind::Filter,
           description: "Passes the message on only if the condition is true" },
    Spec { component: "split", function: "each", name: "Split", kind: Kind::Split,
           description: "One message per element of the array at path" },
    Spec { component: "delay", function: "wait", name: "Delay", kind: Kind::Delay,
           description: "Waits ms milliseconds durably, without holding a worker" },
    Spec { component: "respond", function: "reply", name: "Respond", kind: Kind::Respond,
           description: "Sets the sync webhook response: status, headers, body" },
    Spec { component: "log", function: "write", name: "Log", kind: Kind::Log,
           description: "Logs the message (for tests and debugging)" },
];

/// The catalogue entry for a component and function.
pub fn find(component: &str, function: &str) -> Option<&'static Spec> {
    CATALOGUE
        .iter()
        .find(|s| s.component == component && s.function == function)
}

/// The fields each component reads, for `GET /components`.
fn fields_of(kind: Kind) -> Value {
    match kind {
        Kind::Trigger => json!({}),
        Kind::Http => json!({
            "method": "GET | POST | PUT | PATCH | DELETE | HEAD (default GET)",
            "url": "string, {{ }} templated (required)",
            "headers": "object of strings, {{ }} templated",
            "body": "any JSON, {{ }} templated; sent as JSON",
            "timeoutMs": "number (default: the server's http_timeout_ms)",
            "allowErrorStatus": "boolean: a non-2xx status does not fail the step"}),
        Kind::Transform => json!({"expression": "JSONata (required)"}),
        Kind::Filter => json!({"condition": "JSONata (required)"}),
        Kind::Split => json!({"path": "JSONata selecting an array (required)"}),
        Kind::Delay => json!({"ms": "number of milliseconds (required)"}),
        Kind::Respond => json!({
            "status": "number (default 200)", "headers": "object, {{ }} templated",
            "body": "any JSON, {{ }} templated (default: the data)"}),
        Kind::Log => json!({"level": "debug | info | warn | error (default info)",
                            "message": "string, {{ }} templated"}),
    }
}

/// The catalogue as `GET /components` shows it.
pub fn catalogue_json() -> Value {
    Value::Array(
        CATALOGUE
            .iter()
            .map(|s| {
                json!({"componentId": s.component, "function": s.function, "name": s.name,
                       "description": s.description, "trigger": s.kind == Kind::Trigger,
                       "fields": fields_of(s.kind)})
            })
            .collect(),
    )
}

/// What a component produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The data of each message it emits (none: the branch ends here).
    pub emitted: Vec<Value>,
    /// A `delay` asks to be woken after this long.
    pub wait: Option<Duration>,
    /// A `respond` step's reply.
    pub response: Option<Value>,
}

impl Outcome {
    fn one(data: Value) -> Outcome {
        Outcome {
            emitted: vec![data],
            ..Outcome::default()
        }
    }
}

/// What components may use.
pub struct Runtime {
    /// Outgoing HTTP with the private-network guard.
    pub http: HttpCaller,
    /// Expression bounds.
    pub limits: Limits,
    /// The secret service, for nodes that name a credential (`None`: such nodes fail).
    pub credentials: Option<Arc<Credentials>>,
}

/// Runs `kind` on `data`. `fields` is the node's configuration; `waited` tells a `delay` its wait is over;
/// `credential` is the secret the node names.
pub async fn run(
    kind: Kind,
    node_id: &str,
    fields: &Value,
    scope: Scope<'_>,
    waited: bool,
    credential: Option<&StepCredential>,
    rt: &Runtime,
) -> Result<Outcome, StepError> {
    let data = scope.data;
    let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
    let expression = |name: &str| -> Result<&str, StepError> {
        field(name).and_then(Value::as_str).ok_or_else(|| {
            StepError::new(
                "ConfigurationError",
                format!("node {node_id}: fields.{name} is required"),
            )
        })
    };
    let eval = |e: &str| {
        expr::eval(e, scope, rt.limits).map_err(|m| StepError::new("ExpressionError", format!("{e}: {m}")))
    };
    let render =
        |v: &Value| expr::render(v, scope, rt.limits).map_err(|m| StepError::new("ExpressionError", m));
    match kind {
        Kind::Trigger => Ok(Outcome::one(data.clone())),
        Kind::Transform => Ok(Outcome::one(
            eval(expression("expression")?)?.unwrap_or(Value::Null),
        )),
        Kind::Filter => {
            let pass = expr::truthy(eval(expression("condition")?)?.as_ref());
            Ok(if pass {
                Outcome::one(data.clone())
            } else {
                Outcome::default()
            })
        }
        Kind::Split => {
            let emitted = match eval(expression("path")?)? {
                None => vec![],
                Some(Value::Array(items)) => items,
                Some(one) => vec![one],
            };
            Ok(Outcome {
                emitted,
                ..Outcome::default()
            })
        }
        Kind::Delay => {
            if waited {
                return Ok(Outcome::one(data.clone()));
            }
            let ms = field("ms").and_then(Value::as_u64).unwrap_or(0);
            Ok(Outcome {
                wait: Some(Duration::from_millis(ms)),
                ..Outcome::default()
            })
        }
        Kind::Respond => {
            let status = field("status").and_then(Value::as_u64).unwrap_or(200);
            let headers = field("headers")
                .map(render)
                .transpose()?
                .unwrap_or_else(|| json!({}));
            let body = match field("body") {
                Some(b) => render(b)?,
                None => data.clone(),
            };
            Ok(Outcome {
                emitted: vec![data.clone()],
                response: Some(json!({"status": status, "headers": headers, "body": body})),
                ..Outcome::default()
            })
        }
        Kind::Log => {
            let message = match field("message") {
                Some(m) => render(m)?,
                None => data.clone(),
            };
            let text = match &message {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match field("level").and_then(Value::as_str).unwrap_or("info") {
                "debug" => tracing::debug!(node = node_id, "{text}"),
                "warn" => tracing::warn!(node = node_id, "{text}"),
                "error" => tracing::error!(node = node_id, "{text}"),
                _ => tracing::info!(node = node_id, "{text}"),
            }
            Ok(Outcome::one(data.clone()))
        }
        Kind::Http => {
            let rendered = render(fields)?;
            let response = match (credential, &rt.credentials) {
                (None, _) => rt.http.call(node_id, &rendered).await?,
                (Some(c), Some(creds)) => {
                    crate::credentials::http_call(&rt.http, creds, c, node_id, &rendered).await?
                }
                (Some(_), None) => {
                    return Err(StepError::new(
                        "CredentialError",
                        "no secret service is configured",
                    ))
                }
            };
            Ok(Outcome::one(response))
        }
    }
}
