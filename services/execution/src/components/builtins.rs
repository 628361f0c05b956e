//! What each built-in component does with a message (API.md §6).
//!
//! A component receives the message's `data` (after `nodeSettings.applyTransform` "before") and emits zero or more
//! data values; the engine carries each along the node's edges. Components never see the database: the engine
//! records and checkpoints around them.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};

use super::{outbound::HttpCaller, Kind};
use crate::{
    credentials::{Credentials, StepCredential},
    expr::{self, Limits, Scope},
    model::StepError,
};

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
