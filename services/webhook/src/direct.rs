//! The sync fast path, from the webhook's side: a sync webhook's trigger is handed to the execution service,
//! which runs it in the call when its flow allows and answers with the recorded result (`RunSync`; the execution
//! service's `engine::inline` says which flows and why a 200 still means recorded). No queue hop, no reply
//! channel. When the execution service does not run it, or cannot be asked, the trigger takes the queue as before:
//! the execution id is the request id, so a trigger the execution service did record runs no second time.

use std::time::Duration;

use flowmate_domain::{event::payload::ExecutionFinished, execution::WorkItem};
use flowmate_proto::{
    executions::v1::{executions_client::ExecutionsClient, run_sync_response::Outcome, RunSyncRequest},
    transport::{self, Transport},
};

/// How much longer than the flow's sync timeout the call may take before the webhook stops waiting for it (the
/// execution service answers "running" at the timeout itself).
const MARGIN: Duration = Duration::from_secs(2);

/// How a sync trigger handed over went.
#[derive(Debug, Clone, PartialEq)]
pub enum Direct {
    /// Ran and recorded: the execution's result.
    Finished(Box<ExecutionFinished>),
    /// Recorded and still running (or a repeat of a recorded request): answer where to look.
    Running,
    /// Not run: queue the trigger as usual.
    Queue,
}

/// The webhook service's sync runs at the execution service.
pub struct SyncRuns {
    /// `None`: every sync trigger takes the queue (a webhook service on its own, in tests).
    client: Option<ExecutionsClient<Transport>>,
}

impl SyncRuns {
    /// Sync runs at the execution service at `url`. The call has no deadline of its own: each waits as long as
    /// its flow's sync timeout.
    pub fn new(url: &str) -> anyhow::Result<SyncRuns> {
        let channel = transport::connect(url, None)?;
        Ok(SyncRuns {
            client: Some(
                ExecutionsClient::new(channel).max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            ),
        })
    }

    /// No sync runs: every sync trigger takes the queue.
    pub fn queue_only() -> SyncRuns {
        SyncRuns { client: None }
    }

    /// Hands `item` over, to be answered within `wait`.
    pub async fn run(&self, item: &WorkItem, wait: Duration) -> Direct {
        let Some(client) = &self.client else {
            return Direct::Queue;
        };
        let Ok(work_json) = serde_json::to_string(item) else {
            return Direct::Queue;
        };
        let request = RunSyncRequest {
            work_json,
            timeout_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        };
        let mut client = client.clone();
        let answer = match tokio::time::timeout(wait + MARGIN, client.run_sync(request)).await {
            Ok(Ok(answer)) => answer.into_inner(),
            Ok(Err(status)) => {
                tracing::debug!(error = %status.message(), "sync run not available; queuing the trigger");
                return Direct::Queue;
            }
            Err(_) => return Direct::Queue,
        };
        match answer.outcome() {
            Outcome::Finished => match serde_json::from_str(&answer.finished_json) {
                Ok(finished) => Direct::Finished(Box::new(finished)),
                // Recorded, but its result did not come through: the caller looks it up.
                Err(_) => Direct::Running,
            },
            Outcome::Running => Direct::Running,
            Outcome::Queue | Outcome::Unspecified => Direct::Queue,
        }
    }
}
