//! What a redelivered or resumed execution continues from: the messages still to handle and what earlier steps
//! produced.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Counters, StepError};

/// A message waiting to be handled by a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The node.
    pub node: String,
    /// The message (`{"data", "headers", "metadata", …}`).
    pub msg: Value,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Not before this time (RFC 3339): a retry backoff or a delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// A `delay` node whose wait is over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waited: bool,
}

impl Task {
    /// The first attempt of `node` at `msg`, due at once.
    pub fn new(node: impl Into<String>, msg: Value) -> Task {
        Task {
            node: node.into(),
            msg,
            attempt: 1,
            due: None,
            waited: false,
        }
    }

    /// The same task as a fresh first attempt, due at once (a retry from the failed steps).
    pub fn again(self) -> Task {
        Task {
            attempt: 1,
            due: None,
            waited: false,
            ..self
        }
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// What a redelivered or resumed execution continues from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Messages still to handle, in order.
    pub tasks: VecDeque<Task>,
    /// `$steps`: the latest output of each node (an object by node id).
    #[serde(default = "empty_object")]
    pub outputs: Value,
    /// Steps recorded so far.
    pub seq: u32,
    /// Tasks that failed for good (a retry "from failed" runs them again).
    #[serde(default)]
    pub failed: Vec<Task>,
    /// The `respond` step's reply.
    #[serde(default)]
    pub response: Option<Value>,
    /// The last step's output.
    #[serde(default)]
    pub last: Option<Value>,
    /// The first failure.
    #[serde(default)]
    pub error: Option<StepError>,
    /// Step counts.
    #[serde(default)]
    pub counters: Counters,
    /// Where a waiting caller expects the result (routing key), if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            tasks: VecDeque::new(),
            outputs: empty_object(),
            seq: 0,
            failed: Vec::new(),
            response: None,
            last: None,
            error: None,
            counters: Counters::default(),
            reply_to: None,
        }
    }
}

impl RunState {
    /// The state of a run that has `tasks` to do and nothing done yet.
    pub fn starting(tasks: impl IntoIterator<Item = Task>) -> RunState {
        RunState {
            tasks: tasks.into_iter().collect(),
            ..RunState::default()
        }
    }
}
