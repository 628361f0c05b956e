//! What each built-in component does with a message (API.md §6).
//!
//! A component receives the message's `data` (after `nodeSettings.applyTransform` "before") and emits zero or more
//! data values; the engine carries each along the node's edges. Components never see the database: the engine
//! records and checkpoints around them.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};

use super::{
    code::{self, CodeRunner, Mode},
    control,
    outbound::HttpCaller,
    Kind,
};
use crate::{
    credentials::{Credentials, StepCredential},
    expr::{self, Limits, Scope},
    model::{StepError, StepLogs},
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
    /// What a code step wrote to its console.
    pub logs: Option<StepLogs>,
}

/// Why a step failed, and what a code step wrote to its console before it did.
#[derive(Debug)]
pub struct StepFailure {
    /// The step's error.
    pub error: StepError,
    /// A code step's console lines.
    pub logs: Option<StepLogs>,
}

impl From<StepError> for StepFailure {
    fn from(error: StepError) -> StepFailure {
        StepFailure { error, logs: None }
    }
}

/// Where a step runs: its node, its attempt, its execution and its flow.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The node id.
    pub node_id: &'a str,
    /// A `delay` node whose wait is over.
    pub waited: bool,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The execution.
    pub execution_id: &'a str,
    /// The flow.
    pub flow_id: &'a str,
    /// The flow's version.
    pub flow_version: i64,
    /// The flow's tenant.
    pub tenant: &'a str,
    /// `nodeSettings.timeoutMs`.
    pub timeout: Option<Duration>,
    /// The secret the node names (`credentials_id`), resolved at start.
    pub credential: Option<&'a StepCredential>,
    /// What resumed a parked `wait.event` or `flow.call` (the resume body, the child's result).
    pub resumed: Option<&'a Value>,
    /// Who this step is, for claims that must hold across a redelivery (`dedupe.check`): execution and step
    /// number.
    pub claimant: &'a str,
}

impl Outcome {
    /// One message with `data`.
    pub fn one(data: Value) -> Outcome {
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
    /// The JavaScript sandbox of code steps.
    pub code: CodeRunner,
    /// A code step's time limit unless `nodeSettings.timeoutMs` sets one (`FLOWMATE_CODE_TIMEOUT_MS`).
    pub code_timeout: Duration,
    /// The secret service, for nodes that name a credential (`None`: such nodes fail).
    pub credentials: Option<Arc<Credentials>>,
    /// Where `dedupe.check` keeps its keys (`None`: such nodes fail).
    pub store: Option<Arc<dyn crate::model::ExecutionStore>>,
    /// What the connector steps keep between runs (database pools, broker channels).
    pub connectors: super::connectors::Connectors,
}

/// Runs `kind` on `data`. `fields` is the node's configuration; `cx` says where the step runs (and which secret
/// its node names).
pub async fn run(
    kind: Kind,
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    rt: &Runtime,
) -> Result<Outcome, StepFailure> {
    let (node_id, waited, credential) = (cx.node_id, cx.waited, cx.credential);
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
        Kind::Code => code_step(fields, scope, cx, rt).await,
        Kind::Merge | Kind::FlowCall | Kind::WaitEvent | Kind::Dedupe | Kind::Raise => {
            control::run(kind, fields, scope, cx, rt).await
        }
        Kind::Connector(c) => super::connectors::run(c, fields, scope, cx, rt).await,
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
        Kind::Log => Ok(log(field("message"), field("level"), data, node_id, render)?),
        Kind::Http => {
            let rendered = render(fields)?;
            let response = match (credential, &rt.credentials) {
                (None, _) => rt.http.call(node_id, &rendered).await?,
                (Some(c), Some(creds)) => {
                    crate::credentials::http_call(&rt.http, creds, c, node_id, &rendered).await?
                }
                (Some(_), None) => {
                    return Err(StepError::new("CredentialError", "no secret service is configured").into())
                }
            };
            Ok(Outcome::one(response))
        }
    }
}

/// `log.write`: the message (templated; default the data) at its level.
fn log(
    message: Option<&Value>,
    level: Option<&Value>,
    data: &Value,
    node_id: &str,
    render: impl Fn(&Value) -> Result<Value, StepError>,
) -> Result<Outcome, StepError> {
    let message = match message {
        Some(m) => render(m)?,
        None => data.clone(),
    };
    let text = match &message {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match level.and_then(Value::as_str).unwrap_or("info") {
        "debug" => tracing::debug!(node = node_id, "{text}"),
        "warn" => tracing::warn!(node = node_id, "{text}"),
        "error" => tracing::error!(node = node_id, "{text}"),
        _ => tracing::info!(node = node_id, "{text}"),
    }
    Ok(Outcome::one(data.clone()))
}

/// `$execution` for a code step: the execution as expressions see it, with the attempt.
fn execution_json(execution: &Value, attempt: u32) -> String {
    let mut v = match execution {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    v["attempt"] = json!(attempt);
    v.to_string()
}

/// `code.execute`: the node's code in the sandbox, with the step's scope.
async fn code_step(
    fields: &Value,
    scope: Scope<'_>,
    cx: &StepContext<'_>,
    rt: &Runtime,
) -> Result<Outcome, StepFailure> {
    let code = fields.get("code").and_then(Value::as_str).ok_or_else(|| {
        StepError::new(
            "ConfigurationError",
            format!("node {}: fields.code is required", cx.node_id),
        )
    })?;
    let mode = Mode::parse(fields.get("mode").and_then(Value::as_str)).unwrap_or(Mode::Once);
    let timeout = cx.timeout.unwrap_or(rt.code_timeout);
    let text = |v: &Value| serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    // Only code that names `$msg` or `$steps` (or reaches its arguments) can see them: skip them otherwise.
    let names = |name: &str| code.contains(name) || code.contains("arguments");
    let job = code::Job {
        tenant: cx.tenant.to_owned(),
        code: code.to_owned(),
        data: text(scope.data),
        msg: if names("$msg") {
            text(scope.msg)
        } else {
            "null".into()
        },
        steps: if names("$steps") {
            text(scope.steps)
        } else {
            "null".into()
        },
        flow: json!({"id": cx.flow_id, "version": cx.flow_version, "tenant": cx.tenant}).to_string(),
        execution: execution_json(scope.execution, cx.attempt),
        each: mode == Mode::Each,
        timeout,
    };
    let out = rt.code.run(job).await;
    let logs = Some(out.logs);
    match out.result {
        Ok(value) => Ok(Outcome {
            emitted: vec![value],
            logs,
            ..Outcome::default()
        }),
        Err(failure) => Err(StepFailure {
            error: failure.into_step_error(timeout, rt.code.limits()),
            logs,
        }),
    }
}
