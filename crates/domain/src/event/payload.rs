//! The payloads of the events services exchange, in one place: the producer builds one of these and the consumer
//! reads the same type, so a field cannot be renamed on one side only, and a required field that is missing is a
//! rejected message, not an empty string. The wire names are those of `docs/events.md` (camelCase).

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use crate::{execution::StepError, flow::Flow};

/// A payload the bus can carry.
pub trait Payload: Serialize + DeserializeOwned {
    /// As the envelope's `data`.
    fn to_data(&self) -> Value {
        // Serializing these plain structs cannot fail (no maps with non-string keys, no failing impls).
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Read from an envelope's `data`; `Err` names what is missing or malformed.
    fn from_data(data: &Value) -> Result<Self, String> {
        Self::deserialize(data).map_err(|e| e.to_string())
    }
}

impl<T: Serialize + DeserializeOwned> Payload for T {}

/// `flow.created`, `flow.modified`: the flow as saved, and who saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowChanged {
    /// The flow.
    pub flow_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Who changed it.
    pub user: String,
    /// The whole flow (its webhook HMAC secret sealed).
    pub flow: Flow,
}

/// `flow.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowDeleted {
    /// The flow.
    pub flow_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Who deleted it.
    pub user: String,
}

/// `flow.starting`: the whole flow, and who started it (the executions' default user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStarting {
    /// The flow's fields, at the top level of the payload.
    #[serde(flatten)]
    pub flow: Flow,
    /// Who started it.
    pub started_by: String,
}

/// `flow.started`: the execution service runs this version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStarted {
    /// The flow.
    pub flow_id: String,
    /// The version that runs.
    pub version: i64,
}

/// `flow.failed`: the flow cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowFailed {
    /// The flow.
    pub flow_id: String,
    /// Why, for people (its `statusReason`).
    pub reason: String,
}

/// `flow.stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStopped {
    /// The flow.
    pub flow_id: String,
}

/// `flow.stopping`, `flow.deleted`, `flow.started` … as a consumer that needs only the flow's id reads them: `id`
/// (the flow itself, as `flow.stopping` carries it) or `flowId`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FlowRef {
    /// `id` of a payload that is the flow.
    #[serde(default)]
    id: Option<String>,
    /// `flowId` of the others.
    #[serde(default, rename = "flowId")]
    flow_id: Option<String>,
}

impl FlowRef {
    /// The flow's id, if the payload names one.
    pub fn id(&self) -> Option<&str> {
        self.flow_id
            .as_deref()
            .or(self.id.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// The flow id `data` names, if any.
    pub fn of(data: &Value) -> Option<String> {
        FlowRef::deserialize(data)
            .ok()
            .and_then(|r| r.id().map(str::to_owned))
    }
}

/// `execution.resume`: the message that owns execution `execution_id` as of `generation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResume {
    /// The execution.
    pub execution_id: String,
    /// Its generation this message owns.
    pub generation: i64,
}

/// `execution.finished`, and the reply to a waiting sync caller (`execution.reply.<replica>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionFinished {
    /// The execution.
    pub execution_id: String,
    /// Its flow.
    pub flow_id: String,
    /// Its tenant.
    pub tenant: String,
    /// `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// The last step's output.
    pub output: Option<Value>,
    /// What a `response` step set for the sync caller.
    pub response: Option<Value>,
    /// Why it failed.
    pub error: Option<StepError>,
    /// How long it took.
    pub duration_ms: Option<i64>,
}

/// `execution.child.done`: a child execution's end, for its parent's waiting `flow.call` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildDone {
    /// The waiting parent.
    pub parent_id: String,
    /// The parent's node that waits.
    pub node_id: String,
    /// The child.
    pub child_id: String,
    /// The child's status.
    pub status: String,
    /// The child's last output.
    pub output: Option<Value>,
    /// Why the child failed.
    pub error: Option<StepError>,
}

/// `secret.created`, `secret.modified`, `secret.deleted`: which secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretChanged {
    /// The secret.
    pub secret_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Who changed it (empty for a refresh the service did itself).
    pub user: String,
    /// Its name (not on `secret.deleted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its type (not on `secret.deleted`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_required_field_is_an_error_not_an_empty_value() {
        let err = ChildDone::from_data(
            &serde_json::json!({"parentId": "p", "childId": "c", "status": "succeeded"}),
        )
        .unwrap_err();
        assert!(err.contains("nodeId"), "{err}");
        let ok =
            ExecutionResume::from_data(&serde_json::json!({"executionId": "e", "generation": 2})).unwrap();
        assert_eq!(
            ok.to_data(),
            serde_json::json!({"executionId": "e", "generation": 2})
        );
    }

    #[test]
    fn a_flow_is_named_by_id_or_flow_id() {
        let by_id = FlowRef::of(&serde_json::json!({"id": "a", "name": "x"}));
        let by_flow_id = FlowRef::of(&serde_json::json!({"flowId": "b"}));
        let neither = FlowRef::of(&serde_json::json!({"id": ""}));
        assert_eq!(
            (by_id.as_deref(), by_flow_id.as_deref(), neither),
            (Some("a"), Some("b"), None)
        );
    }
}
