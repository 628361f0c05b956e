//! The execution service's clocks: resuming parked executions when they are due, taking back executions whose
//! holder went away (their lease ran out), firing cron flows, and deleting executions past the retention. Claims
//! happen in the database (`FOR UPDATE SKIP LOCKED` on PostgreSQL), each with its work item in the same
//! transaction, so replicas never fire a tick or a resume twice
//! and a crash loses neither.

use std::{sync::Arc, time::Duration};

use flowmate_domain::{
    event::types,
    execution::{TriggerInfo, WorkItem},
    time, Envelope, ExecutionId,
};
use serde_json::json;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{model::ExecutionStore, SOURCE};

/// How many rows one claim takes.
const CLAIM: i64 = 256;
/// The longest the timers sleep without looking at the database (other replicas may have parked executions).
const POLL: Duration = Duration::from_secs(1);

/// The `flow.execute` of one schedule tick of flow `flow_id` (of `tenant`).
pub fn tick(flow_id: &str, tenant: &str, due: &str, next: &str) -> Envelope {
    let id = ExecutionId::new();
    let message = json!({
        "id": id, "data": {"sheduledTimestamp": due, "nextSheduledTimestamp": if next.is_empty() { None } else { Some(next) }},
        "attachments": {}, "headers": {},
        "metadata": {"source": {"name": "scheduler", "type": "schedule", "externalExecId": id}},
    });
    let item = WorkItem {
        execution_id: id,
        flow_id: flow_id.into(),
        trigger: TriggerInfo {
            kind: "schedule".into(),
            request_id: None,
            retry_of: None,
        },
        message,
        user: None,
        reply_to: None,
        parent: None,
    };
    Envelope::new(
        types::FLOW_EXECUTE,
        SOURCE,
        serde_json::to_value(item).unwrap_or_default(),
    )
    .with_tenant(tenant)
}

/// Resumes due executions and fires due schedules until `shutdown`; `wake` makes it look again at once.
pub fn start(
    store: Arc<dyn ExecutionStore>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = time::now();
            let now_text = time::format(now);
            loop {
                match store.claim_due(&now_text, CLAIM).await {
                    Ok(n) if n as i64 >= CLAIM => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming due executions failed");
                        break;
                    }
                }
            }
            if let Err(e) = store.claim_stale(&now_text, CLAIM).await {
                tracing::warn!(error = %e, "claiming stale executions failed");
            }
            loop {
                match store
                    .claim_schedules(now, CLAIM, &|flow, tenant, due, next| {
                        Some(tick(flow, tenant, due, next))
                    })
                    .await
                {
                    Ok(n) if n as i64 >= CLAIM => continue,
                    Ok(n) => {
                        if n > 0 {
                            tracing::debug!(fired = n, "schedules fired");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming due schedules failed");
                        break;
                    }
                }
            }
            let next = [
                store.next_wake().await.ok().flatten(),
                store.next_schedule().await.ok().flatten(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|t| time::parse(&t))
            .min();
            let sleep = next
                .map(|t| (t - time::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(POLL)
                .min(POLL);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    })
}

/// Deletes executions that finished more than `retention` ago, in bounded batches, every hour until `shutdown`.
pub fn start_purge(
    store: Arc<dyn ExecutionStore>,
    retention: chrono::Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let before = time::format(time::now() - retention);
            let mut removed = 0;
            loop {
                match store.purge(&before, 1000).await {
                    Ok(n) => {
                        removed += n;
                        if n < 1000 {
                            break;
                        }
                        // Leave room for the writers between batches.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "purging old executions failed");
                        break;
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
            if removed > 0 {
                tracing::info!(removed, "deleted executions past the retention");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    })
}

/// How often expired `dedupe.check` keys are deleted.
const DEDUPE_PURGE_EVERY: Duration = Duration::from_secs(300);

/// Deletes expired `dedupe.check` keys in bounded batches every few minutes until `shutdown` (an expired key
/// already lets its next message through; this only keeps the table small).
pub fn start_dedupe_purge(store: Arc<dyn ExecutionStore>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(DEDUPE_PURGE_EVERY) => {}
            }
            loop {
                match store.purge_dedupe(&time::now_string(), 1000).await {
                    Ok(n) if n >= 1000 && !shutdown.is_cancelled() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "purging expired dedupe keys failed");
                        break;
                    }
                }
            }
        }
    })
}

/// How often tenants' quotas are looked after: stored executions pruned, usage published as metrics.
const QUOTA_EVERY: Duration = Duration::from_secs(15);

/// Every [`QUOTA_EVERY`] until `shutdown`: deletes the oldest finished executions of tenants past their
/// `maxStoredExecutions`, and sets the per-tenant usage gauges of tenants with a quota (only those: one series per
/// tenant of an installation with thousands would swamp a metrics store).
pub fn start_quotas(store: Arc<dyn ExecutionStore>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(QUOTA_EVERY) => {}
            }
            loop {
                match store.prune_stored(1000).await {
                    Ok(n) if n >= 1000 && !shutdown.is_cancelled() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "pruning executions past a tenant's quota failed");
                        break;
                    }
                }
            }
            let tenants = store.quota_tenants().await.unwrap_or_default();
            for tenant in tenants.into_iter().take(1000) {
                let Ok(state) = store.quota_state(&tenant).await else {
                    continue;
                };
                let u = state.usage;
                for (name, value) in [
                    ("flowmate_tenant_queued", u.queued),
                    ("flowmate_tenant_running", u.running),
                    ("flowmate_tenant_executions_last_minute", u.executions_last_minute),
                    ("flowmate_tenant_stored_executions", u.stored_executions),
                ] {
                    metrics::gauge!(name, "tenant" => tenant.clone()).set(value as f64);
                }
            }
        }
    })
}
