//! After a start, makes sure every flow the flow repository lists as active runs here too (for example when this
//! service's database was restored or replaced): missing ones are registered without events.

use std::{collections::HashSet, sync::Arc, time::Duration};

use flowmate_domain::flow::Flow;
use flowmate_proto::flows::v1::{flow_repository_client::FlowRepositoryClient, ListActiveFlowsRequest};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::core::ExecutionCore;

/// Reconciles once the flow repository answers, retrying with a growing wait until it does or `shutdown`.
pub fn start(
    flows_url: String,
    timeout: Duration,
    core: Arc<ExecutionCore>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(200);
        loop {
            match reconcile(&flows_url, timeout, &core).await {
                Ok(added) => {
                    if added > 0 {
                        tracing::info!(added, "registered active flows from the flow repository");
                    }
                    return;
                }
                Err(e) => tracing::debug!(error = %e, "flow repository not reachable yet; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    })
}

async fn reconcile(url: &str, timeout: Duration, core: &ExecutionCore) -> anyhow::Result<usize> {
    let channel = flowmate_proto::transport::connect(url, Some(timeout))?;
    let mut client =
        FlowRepositoryClient::new(channel).max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
    let known: HashSet<String> = core.running_flow_ids().await?.into_iter().collect();
    let mut after = String::new();
    let mut added = 0;
    loop {
        let page = client
            .list_active_flows(ListActiveFlowsRequest {
                limit: 500,
                after_id: after.clone(),
                ids: vec![],
            })
            .await?
            .into_inner();
        for doc in &page.flows {
            let data: Value = serde_json::from_str(&doc.json)?;
            let Ok(flow) = serde_json::from_value::<Flow>(data.clone()) else {
                continue;
            };
            if !known.contains(flow.id.as_str()) && core.adopt_active(&flow, &data).await? {
                added += 1;
            }
        }
        if page.next_after_id.is_empty() {
            return Ok(added);
        }
        after = page.next_after_id;
    }
}
