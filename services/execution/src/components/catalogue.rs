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
    /// `merge.wait`: joins the branches of one execution.
    Merge,
    /// `flow.call`: runs another flow as a child execution.
    FlowCall,
    /// `wait.event`: parks until its resume URL is called.
    WaitEvent,
    /// `dedupe.check`: passes a message on only if its key was not seen within the TTL.
    Dedupe,
    /// `error.raise`: fails the execution.
    Raise,
    /// `sql.query`, `email.send`, `amqp.publish` (components/connectors).
    Connector(Connector),
}

impl Kind {
    /// Whether running it again would repeat an effect outside FlowMate (so the engine checkpoints after it).
    pub fn has_side_effects(self) -> bool {
        matches!(self, Kind::Http | Kind::FlowCall | Kind::Connector(_))
    }

    /// Whether an execution running it may park on it (so the execution is recorded as soon as it starts).
    pub fn waits(self) -> bool {
        matches!(self, Kind::Delay | Kind::WaitEvent | Kind::FlowCall)
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
    Spec { component: "merge", function: "wait", name: "Merge", kind: Kind::Merge,
           description: "Joins the branches of one execution: waits until every branch that can reach it has settled (or fields.count messages arrived), then emits what arrived" },
    Spec { component: "flow", function: "call", name: "Call a flow", kind: Kind::FlowCall,
           description: "Runs another active flow of the same tenant as a child execution and emits its result (or, with wait false, its execution id)" },
    Spec { component: "wait", function: "event", name: "Wait for an event", kind: Kind::WaitEvent,
           description: "Parks the execution until its resume URL is called (single-use token) or timeoutMs passes; emits the resume body" },
    Spec { component: "dedupe", function: "check", name: "Deduplicate", kind: Kind::Dedupe,
           description: "Passes a message on only if its key was not seen in this flow within ttlMs" },
    Spec { component: "error", function: "raise", name: "Raise an error", kind: Kind::Raise,
           description: "Fails the execution with a message; the steps still to run are abandoned" },
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
        Kind::Merge => json!({
            "mode": "object (default): {\"<source node id>\": data} (an array of data when several messages came from one node) | array: every data in order",
            "count": "number: fire as soon as this many messages arrived (default: when every incoming branch has settled)"}),
        Kind::FlowCall => json!({
            "flowId": "the id of an active flow of the same tenant (required)",
            "input": "JSONata: the child's trigger data (default: data)",
            "wait": "boolean (default true): wait for the child and emit its output; false: start it and emit {executionId}"}),
        Kind::WaitEvent => json!({
            "timeoutMs": "number (default 604800000 = 7 days)",
            "onTimeout": "fail (default): the step fails with WaitTimeout | continue: emits {\"timedOut\": true}"}),
        Kind::Dedupe => json!({
            "key": "JSONata: the message's key (required)",
            "ttlMs": "number: how long a key is remembered (required)"}),
        Kind::Raise => json!({"message": "string, {{ }} templated (required)",
                              "name": "the error's name (default FlowError)"}),
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
