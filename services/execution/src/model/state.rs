//! What a redelivered or resumed execution continues from: the messages still to handle and what earlier steps
//! produced.

use std::collections::{BTreeMap, VecDeque};

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
    /// The node whose output this message is (`None` for the trigger's message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The element's position when a `split` made this message (kept along the branch, for `merge`'s order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// A parked `wait.event` (its resume token) or `flow.call` (its child's id): the resume it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// What the awaited resume brought (the resume body, or the child's result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Value>,
    /// A `merge` node's task carrying what it joined (it runs; it is not buffered again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merged: bool,
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
            from: None,
            index: None,
            awaiting: None,
            resumed: None,
            merged: false,
        }
    }

    /// The same task as a fresh first attempt, due at once (a retry from the failed steps).
    pub fn again(self) -> Task {
        Task {
            attempt: 1,
            due: None,
            waited: false,
            awaiting: None,
            resumed: None,
            ..self
        }
    }
}

/// A message that reached a `merge` node, held until the merge fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrival {
    /// The node it came from.
    pub from: String,
    /// Its `split` position, if a split made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Its data.
    pub data: Value,
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
    /// Messages held by each `merge` node until it fires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub merges: BTreeMap<String, Vec<Arrival>>,
    /// The resume token of each `wait.event` node (single use: a new one when the node waits again).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waits: BTreeMap<String, WaitToken>,
    /// Resume bodies that came before their `wait.event` node was reached: it goes on at once when it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub early: BTreeMap<String, Value>,
}

/// A `wait.event` node's resume token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitToken {
    /// The token in its resume URL (random, 256 bits, hex).
    pub token: String,
    /// It resumed the node already (a second use is refused).
    #[serde(default)]
    pub used: bool,
}

impl WaitToken {
    /// A new random token.
    pub fn new() -> WaitToken {
        WaitToken {
            token: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            used: false,
        }
    }
}

impl Default for WaitToken {
    fn default() -> Self {
        WaitToken::new()
    }
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
            merges: BTreeMap::new(),
            waits: BTreeMap::new(),
            early: BTreeMap::new(),
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
