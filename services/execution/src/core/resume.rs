//! Resuming parked steps: a `wait.event`'s resume call (`POST /executions/{id}/resume/{nodeId}?token=…`,
//! authenticated by the node's single-use token, compared in constant time) and a child execution's result for
//! the parent's waiting `flow.call`. Either is recorded as a resume row that the engine applies.

use flowmate_domain::event::payload::ChildDone;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::ExecutionCore;
use crate::{
    error::{Conflict, ExecutionError, Result},
    model::{ListQuery, Resume},
};

/// The most children listed with an execution.
const MAX_CHILDREN: u32 = 1000;

impl ExecutionCore {
    /// Resumes `node` of execution `id` with `body` if `token` is the node's resume token and was not used.
    pub async fn resume(&self, id: &str, node: &str, token: &str, body: Value) -> Result<()> {
        super::api::valid_id(id)?;
        let execution = self.store.execution(id).await?.ok_or(ExecutionError::NotFound)?;
        let waits = execution.state.as_ref().map(|s| &s.waits);
        let Some(expected) = waits.and_then(|w| w.get(node)) else {
            if execution.status.is_final() {
                return Err(Conflict::NotWaiting(execution.status).into());
            }
            return Err(ExecutionError::NoWaitNode(node.to_owned()));
        };
        let matches: bool = expected.token.as_bytes().ct_eq(token.as_bytes()).into();
        if !matches {
            return Err(ExecutionError::BadResumeToken);
        }
        if execution.status.is_final() {
            return Err(Conflict::NotWaiting(execution.status).into());
        }
        if expected.used {
            return Err(Conflict::ResumedAlready.into());
        }
        let resume = Resume {
            node: node.to_owned(),
            key: token.to_owned(),
            body,
        };
        if !self.store.add_resume(id, &resume).await? {
            return Err(Conflict::ResumedAlready.into());
        }
        tracing::info!(execution_id = %id, node, "wait resumed");
        self.wake();
        Ok(())
    }

    /// `execution.child.done`: records the child's result for its parent's waiting `flow.call`.
    pub async fn child_done(&self, done: ChildDone) -> Result<()> {
        let body = serde_json::json!({"childId": done.child_id, "status": done.status,
                                      "output": done.output, "error": done.error});
        let resume = Resume {
            node: done.node_id,
            key: done.child_id,
            body,
        };
        self.store.add_resume(&done.parent_id, &resume).await?;
        self.wake();
        Ok(())
    }

    /// The ids of the executions `id` started with `flow.call`, oldest first.
    pub(super) async fn children(&self, id: &str) -> Result<Vec<String>> {
        let query = ListQuery {
            parent_id: Some(id.to_owned()),
            ascending: true,
            page_size: MAX_CHILDREN,
            page_number: 1,
            ..ListQuery::default()
        };
        let (children, _) = self.store.list(&query).await?;
        Ok(children.into_iter().map(|c| c.id.to_string()).collect())
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }
}
