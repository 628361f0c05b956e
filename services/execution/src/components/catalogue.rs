//! The component catalogue (API.md §6): what `componentId` + `function` a node may name, what each does, and the
//! fields each reads, as `GET /components` shows them.

use serde_json::{json, Value};

pub use super::connectors::Connector;

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
    /// `code.execute`.
    Code,
    /// `sql.query`, `email.send`, `amqp.publish` (components/connectors).
    Connector(Connector),
}

impl Kind {
    /// Whether running it again would repeat an effect outside FlowMate (so the engine checkpoints after it).
    pub fn has_side_effects(self) -> bool {
        matches!(self, Kind::Http | Kind::Connector(_))
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

/// The built-in components.
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
    Spec { component: "code", function: "execute", name: "Code", kind: Kind::Code,
           description: "Runs JavaScript in a sandbox: the body of an async function whose return value is the output; console lines are recorded with the step" },
    Spec { component: "sql", function: "query", name: "SQL query", kind: Kind::Connector(Connector::Sql),
           description: "One parameterised statement on PostgreSQL, MySQL/MariaDB or SQLite (a MIXED secret with url); emits the rows as an array, or {rowsAffected}" },
    Spec { component: "email", function: "send", name: "Send email", kind: Kind::Connector(Connector::Email),
           description: "Sends one email over SMTP (STARTTLS, TLS or plain; an optional SIMPLE secret logs in); to, cc, subject, text and html are templated" },
    Spec { component: "amqp", function: "publish", name: "AMQP publish", kind: Kind::Connector(Connector::AmqpPublish),
           description: "Publishes data as JSON to an exchange and routing key of the broker a MIXED secret names; confirmed, and an unroutable message fails the step" },
    Spec { component: "amqp", function: "consume", name: "AMQP consume", kind: Kind::Trigger,
           description: "Trigger: starts the flow for each message of a queue of the broker a MIXED secret names; acked once the trigger is queued" },
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
        Kind::Code => json!({
            "code": "JavaScript (required): the body of an async function; data, $msg, $steps, $flow, $execution and console are in scope; its return value is the output",
            "mode": "once (default) | each: with each, when data is an array the body runs once per element and the output is the array of results"}),
        Kind::Connector(c) => c.fields(),
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
                "fields": if (s.component, s.function) == ("amqp", "consume") {
                    super::connectors::consume::fields()
                } else {
                    fields_of(s.kind)
                }})
            })
            .collect(),
    )
}
