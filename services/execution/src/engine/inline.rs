//! The sync fast path: a sync webhook's trigger run in the call that brings it, without the queue hop and the
//! reply channel (BENCHMARKS.md "Sync fast path").
//!
//! Only a flow that acts on nothing outside FlowMate, never waits and has no concurrency limit runs here. Such a
//! run is in memory until its one write, which records it finished before the caller hears anything: a crash
//! before that write loses nothing that was promised — the caller gets no answer and sends again (with its
//! request id, the execution's id, so a repeat after the write finds the execution instead of running twice). A
//! run still going at the caller's timeout is recorded queued with its work message, owned by the run, before
//! the caller hears "running": the run's write finishes that row, or, if this process dies first, the message
//! runs the execution again from its trigger. Every other flow, and any run past [`INLINE_RUNS`] at once, takes
//! the work queue as before.

use std::{sync::Arc, time::Duration};

use flowmate_bus::HandlerError;
use flowmate_domain::{
    event::{payload::ExecutionFinished, types},
    execution::WorkItem,
    Envelope, Id,
};

use super::{intake::new_execution, worker::retry, Engine};
use crate::{
    model::{Admission, Status, Write},
    SOURCE,
};

/// The most sync triggers run inline at once; more take the work queue, whose gate is fair between tenants.
pub const INLINE_RUNS: usize = 256;

/// How a sync trigger went.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncRun {
    /// Ran here and recorded: its result.
    Finished(Box<ExecutionFinished>),
    /// Not run here: the caller queues the trigger.
    Queue,
    /// Recorded and still running, or its id was already taken by an execution of the flow: the caller points
    /// to `/executions/{id}`.
    Running,
}

impl Engine {
    /// Runs the sync trigger `item` of `tenant` here if its flow allows, waiting at most `wait` for its result.
    pub async fn run_sync(
        self: &Arc<Self>,
        item: WorkItem,
        tenant: Option<&str>,
        wait: Duration,
    ) -> Result<SyncRun, HandlerError> {
        let Some(plan) = self.registry.get(&item.flow_id).await.map_err(retry)? else {
            return Ok(SyncRun::Queue); // the queue path records why it could not run
        };
        if plan.long_running || plan.concurrency.is_some() {
            return Ok(SyncRun::Queue);
        }
        let Ok(permit) = self.inline.clone().try_acquire_owned() else {
            metrics::counter!("flowmate_sync_inline_total", "outcome" => "busy").increment(1);
            return Ok(SyncRun::Queue);
        };
        // The run's own message id: the work message recorded at a timeout carries it, so that message owns the
        // queued row the run finishes.
        let message_id = Id::new().into_string();
        let mut item = item;
        item.reply_to = None;
        let execution = new_execution(&item, Some(&plan), tenant, &message_id);
        let queued = {
            let mut queued = execution.clone();
            queued.status = Status::Queued;
            queued
        };
        let engine = self.clone();
        let mut run = tokio::spawn(async move {
            let _permit = permit;
            engine.drive(Some(plan), execution, Write::Start).await
        });
        let ran = match tokio::time::timeout(wait, &mut run).await {
            Ok(joined) => joined,
            Err(_) => {
                let work = serde_json::to_value(&item).map_err(|e| HandlerError::Reject(e.to_string()))?;
                let mut message =
                    Envelope::new(types::FLOW_EXECUTE, SOURCE, work).with_tenant(queued.tenant.to_string());
                message.id = message_id;
                let admission = self.store.insert_queued(&queued, &message).await.map_err(retry)?;
                if !matches!(admission, Admission::Limited { .. }) {
                    metrics::counter!("flowmate_sync_inline_total", "outcome" => "running").increment(1);
                    return Ok(SyncRun::Running);
                }
                // A quota set meanwhile leaves no room to record it queued: the caller waits for the run instead.
                run.await
            }
        };
        let ran = ran.map_err(|e| HandlerError::Retry(format!("sync run failed: {e}")))??;
        if let Some(finished) = ran {
            metrics::counter!("flowmate_executions_started_total").increment(1);
            metrics::counter!("flowmate_sync_inline_total", "outcome" => "finished").increment(1);
            return Ok(SyncRun::Finished(Box::new(finished)));
        }
        // Nothing written: the id is taken. By an execution of this flow (a repeat of the request): that one is
        // the answer. By another flow's (a caller chose the id): the queue path runs it under an id of its own.
        let existing = self.store.execution(&item.execution_id).await.map_err(retry)?;
        metrics::counter!("flowmate_sync_inline_total", "outcome" => "taken").increment(1);
        Ok(match existing {
            Some(e) if e.flow_id == item.flow_id => SyncRun::Running,
            _ => SyncRun::Queue,
        })
    }
}
