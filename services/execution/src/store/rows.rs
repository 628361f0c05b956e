//! How executions and steps are written to and read from rows: JSON columns and the row → model conversions.

use flowmate_domain::execution::{ParentLink, TriggerInfo};
use flowmate_store::{AnyRow, Row, StoreError};
use serde_json::Value;

use crate::model::{Counters, Execution, RunState, Status, Step, StepStatus};

/// `v` as JSON text.
pub(super) fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// `v` as JSON text, if there is one.
pub(super) fn opt_json<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(json_text)
}

fn parse_opt<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn text(r: &AnyRow, column: &str) -> Result<String, StoreError> {
    Ok(r.try_get::<String, _>(column)?)
}

/// The execution columns every read selects (`message` and `state` only where the whole execution is read).
pub(super) const EXEC_COLUMNS: &str =
    "id, flow_id, flow_version, tenant, user_id, status, trigger, started_at, \
     finished_at, duration_ms, counters, error, response, waiting_until, owner, generation, parent_id, \
     parent_node, depth";

/// An execution row; `full` when it was read with `message` and `state`.
pub(super) fn execution_of(r: &AnyRow, full: bool) -> Result<Execution, StoreError> {
    let status: String = r.try_get("status")?;
    let trigger: String = r.try_get("trigger")?;
    let (message, state) = if full {
        (
            parse_opt(r.try_get("message")?).unwrap_or(Value::Null),
            parse_opt::<RunState>(r.try_get("state")?),
        )
    } else {
        (Value::Null, None)
    };
    Ok(Execution {
        id: text(r, "id")?.into(),
        flow_id: text(r, "flow_id")?.into(),
        flow_version: r.try_get("flow_version")?,
        tenant: text(r, "tenant")?.into(),
        user: text(r, "user_id")?.into(),
        status: Status::parse(&status).unwrap_or(Status::Failed),
        trigger: serde_json::from_str(&trigger).unwrap_or(TriggerInfo {
            kind: "unknown".into(),
            request_id: None,
            retry_of: None,
        }),
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        duration_ms: r.try_get("duration_ms")?,
        counters: parse_opt::<Counters>(r.try_get("counters")?).unwrap_or_default(),
        error: parse_opt(r.try_get("error")?),
        response: parse_opt(r.try_get("response")?),
        message,
        state,
        waiting_until: r.try_get("waiting_until")?,
        owner: r.try_get("owner")?,
        generation: r.try_get("generation")?,
        parent: parent_of(r)?,
    })
}

/// The `flow.call` that started the execution, if one did.
fn parent_of(r: &AnyRow) -> Result<Option<ParentLink>, StoreError> {
    let Some(id) = r.try_get::<Option<String>, _>("parent_id")? else {
        return Ok(None);
    };
    Ok(Some(ParentLink {
        execution_id: id.into(),
        node_id: r.try_get("parent_node")?,
        depth: r.try_get::<i64, _>("depth")?.clamp(0, i64::from(u32::MAX)) as u32,
    }))
}

/// A step row.
pub(super) fn step_of(r: &AnyRow) -> Result<Step, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(Step {
        seq: r.try_get::<i64, _>("seq")? as u32,
        step_id: r.try_get("step_id")?,
        component_id: r.try_get("component_id")?,
        function: r.try_get("function")?,
        status: StepStatus::parse(&status).unwrap_or(StepStatus::Failed),
        attempt: r.try_get::<i64, _>("attempt")? as u32,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        input: parse_opt(r.try_get("input")?),
        output: parse_opt(r.try_get("output")?),
        error: parse_opt(r.try_get("error")?),
        logs: parse_opt(r.try_get("logs")?),
    })
}
