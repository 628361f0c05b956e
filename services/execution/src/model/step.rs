//! One recorded step attempt, and the builder every attempt's record is made with.

use flowmate_domain::{flow::Node, time};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::StepError;

/// How a step attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// It emitted its output.
    Succeeded,
    /// It failed (it may be retried).
    Failed,
    /// It waits (`wait.event` for its resume URL, `flow.call` for its child); another record follows when it
    /// goes on.
    Waiting,
}

impl StepStatus {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Waiting => "waiting",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<StepStatus> {
        match s {
            "succeeded" => Some(StepStatus::Succeeded),
            "failed" => Some(StepStatus::Failed),
            "waiting" => Some(StepStatus::Waiting),
            _ => None,
        }
    }
}

/// One recorded step attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Order within the execution.
    pub seq: u32,
    /// The node id.
    pub step_id: String,
    /// Its component.
    pub component_id: String,
    /// Its function.
    pub function: String,
    /// How it ended.
    pub status: StepStatus,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// The data it received (kept for failed steps only).
    pub input: Option<Value>,
    /// The data it emitted (an array when it emitted several messages).
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<StepError>,
    /// What a code step wrote to its console (kept as its data is, by `saveData`).
    pub logs: Option<StepLogs>,
}

/// One console line of a code step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `info` (`console.log` and `console.info`), `warn`, `error` or `debug`.
    pub level: String,
    /// The arguments, as text.
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A code step's console lines, bounded (API.md §8: at most 100 lines and 16 KiB).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLogs {
    /// The lines kept.
    pub lines: Vec<LogLine>,
    /// Lines left out past the bounds.
    #[serde(default)]
    pub truncated: u32,
}

impl Step {
    /// The API shape.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "stepId": self.step_id, "componentId": self.component_id, "function": self.function,
            "status": self.status.as_str(), "attempt": self.attempt, "startedAt": self.started_at,
            "finishedAt": self.finished_at, "output": self.output, "error": self.error,
        });
        if let Value::Object(map) = &mut v {
            if let Some(input) = &self.input {
                map.insert("input".into(), input.clone());
            }
            if let Some(url) = self.output.as_ref().and_then(|o| o.get("resumeUrl")) {
                if self.status == StepStatus::Waiting {
                    map.insert("resumeUrl".into(), url.clone());
                }
            }
            if let Some(logs) = &self.logs {
                map.insert("logs".into(), json!(logs.lines));
                if logs.truncated > 0 {
                    map.insert("logsTruncated".into(), json!(logs.truncated));
                }
            }
        }
        v
    }

    /// The same record with `logs` (a code step's console).
    pub fn with_logs(self, logs: Option<StepLogs>) -> Step {
        Step { logs, ..self }
    }
}

/// An attempt at a node under way; it becomes the step's record when it ends.
#[derive(Debug)]
pub struct StepRecord<'a> {
    node: &'a Node,
    attempt: u32,
    started_at: String,
    logs: Option<StepLogs>,
}

impl<'a> StepRecord<'a> {
    /// Attempt `attempt` at `node`, starting now.
    pub fn begin(node: &'a Node, attempt: u32) -> StepRecord<'a> {
        StepRecord {
            node,
            attempt,
            started_at: time::now_string(),
            logs: None,
        }
    }

    /// The attempt's console lines (code steps), kept in its record.
    pub fn with_logs(self, logs: Option<StepLogs>) -> StepRecord<'a> {
        StepRecord { logs, ..self }
    }

    fn end(self, seq: u32, status: StepStatus) -> Step {
        Step {
            seq,
            step_id: self.node.id.clone(),
            component_id: self.node.component_id.clone(),
            function: self.node.function.clone(),
            status,
            attempt: self.attempt,
            started_at: self.started_at,
            finished_at: time::now_string(),
            input: None,
            output: None,
            error: None,
            logs: self.logs,
        }
    }

    /// The record of an attempt that emitted `output` (`None`: not kept).
    pub fn succeeded(self, seq: u32, output: Option<Value>) -> Step {
        Step {
            output,
            ..self.end(seq, StepStatus::Succeeded)
        }
    }

    /// The record of a step that now waits: `about` says for what (`resumeUrl`, `executionId`).
    pub fn waiting(self, seq: u32, about: Value) -> Step {
        Step {
            output: Some(about),
            ..self.end(seq, StepStatus::Waiting)
        }
    }

    /// The record of an attempt that failed with `error` on `input` (`None`: not kept).
    pub fn failed(self, seq: u32, input: Option<Value>, error: StepError) -> Step {
        Step {
            input,
            error: Some(error),
            ..self.end(seq, StepStatus::Failed)
        }
    }
}
