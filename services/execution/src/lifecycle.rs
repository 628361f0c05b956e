//! Starting and stopping flows (API.md §3 status machine, ARCHITECTURE.md "Starting a flow"): `flow.starting` →
//! check the flow can run → register its triggers (the running-flow row, the cron schedule) → `flow.started`, or
//! `flow.failed` naming the node and the problem; `flow.stopping` → unregister → `flow.stopped`. Each decision and
//! its event commit together (outbox). Events older than the flow's last change here are ignored, so a late
//! `flow.starting` cannot resurrect a stopped flow.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::{event::types, flow::Flow, time, Envelope};
use flowmate_proto::flows::v1::{flow_repository_client::FlowRepositoryClient, ListActiveFlowsRequest};
use flowmate_store::{outbox, StoreError};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{credentials::Credentials, plan::Plan, registry::Registry, store::Store, SOURCE};

/// Consumes `flow.starting` and `flow.stopping`.
pub struct Lifecycle {
    store: Store,
    registry: Arc<Registry>,
    credentials: Option<Arc<Credentials>>,
}

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

/// Who started the flow: `startedBy`, else its first user owner.
fn started_by(flow: &Flow, data: &Value) -> String {
    data.get("startedBy")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            flow.body
                .owners
                .iter()
                .find(|o| o.kind == "user")
                .map(|o| o.id.clone())
        })
        .unwrap_or_default()
}

/// The next due time of a cron flow, from now.
fn next_due(plan: &Plan) -> Option<(String, String)> {
    let cron = plan.flow.body.cron.as_ref()?;
    let next = flowmate_domain::cron::parse(cron)?.next_after(time::now())?;
    Some((cron.clone(), time::format(next)))
}

impl Lifecycle {
    /// A handler over `store`, keeping `registry` current.
    pub fn new(store: Store, registry: Arc<Registry>) -> Lifecycle {
        Lifecycle {
            store,
            registry,
            credentials: None,
        }
    }

    /// Checks the secrets a starting flow's nodes name with the secret service.
    pub fn with_credentials(mut self, credentials: Arc<Credentials>) -> Lifecycle {
        self.credentials = Some(credentials);
        self
    }

    /// The credential part of the start check: `Err(reason)` when a node names a secret it may not use. A secret
    /// service that cannot answer makes the start wait (the event is retried).
    async fn check_credentials(
        &self,
        flow: &Flow,
        by: &str,
        at: &str,
    ) -> Result<Result<(), String>, HandlerError> {
        let uses = crate::credentials::uses_of(flow);
        if uses.is_empty() {
            return Ok(Ok(()));
        }
        let Some(credentials) = &self.credentials else {
            return Ok(Err(
                "the flow names secrets but no secret service is configured".into()
            ));
        };
        match credentials.check(&flow.id, &flow.body.tenant, by, at, uses).await {
            Ok(None) => Ok(Ok(())),
            Ok(Some(reason)) => Ok(Err(reason)),
            Err(status) => Err(retry(format!("secret service: {}", status.message()))),
        }
    }

    async fn starting(&self, event: &Envelope) -> Result<(), HandlerError> {
        let flow: Flow = serde_json::from_value(event.data.clone())
            .map_err(|e| HandlerError::Reject(format!("flow.starting without a flow: {e}")))?;
        let by = started_by(&flow, &event.data);
        let compiled = match Plan::compile(&flow, &by) {
            Ok(plan) => self
                .check_credentials(&flow, &by, &event.time)
                .await?
                .map(|()| plan),
            Err(reason) => Err(reason),
        };
        let mut tx = self.store.db().begin().await.map_err(retry)?;
        if self
            .is_stale(&mut tx, &flow.id, &event.time)
            .await
            .map_err(retry)?
        {
            return Ok(());
        }
        let reply = match &compiled {
            Ok(plan) => {
                let schedule = next_due(plan);
                let applied = self
                    .store
                    .put_flow(
                        &mut tx,
                        &flow.id,
                        &flow.body.tenant,
                        &by,
                        flow.version,
                        &event.data,
                        true,
                        &event.time,
                        schedule.as_ref().map(|(c, n)| (c.as_str(), n.as_str())),
                    )
                    .await
                    .map_err(retry)?;
                if !applied {
                    return Ok(()); // a later change was applied by another replica
                }
                Envelope::new(
                    types::FLOW_STARTED,
                    SOURCE,
                    json!({"flowId": flow.id, "version": flow.version}),
                )
            }
            Err(reason) => {
                tracing::info!(flow_id = %flow.id, %reason, "flow cannot start");
                let applied = self
                    .store
                    .put_flow(
                        &mut tx,
                        &flow.id,
                        &flow.body.tenant,
                        &by,
                        flow.version,
                        &event.data,
                        false,
                        &event.time,
                        None,
                    )
                    .await
                    .map_err(retry)?;
                if !applied {
                    return Ok(()); // a later change was applied by another replica
                }
                Envelope::new(
                    types::FLOW_FAILED,
                    SOURCE,
                    json!({"flowId": flow.id, "reason": reason}),
                )
            }
        };
        outbox::enqueue(&mut tx, &reply.with_tenant(&flow.body.tenant))
            .await
            .map_err(retry)?;
        tx.commit().await.map_err(retry)?;
        self.registry.invalidate(&flow.id);
        if compiled.is_ok() {
            tracing::info!(flow_id = %flow.id, "flow started");
        }
        Ok(())
    }

    async fn stopping(&self, event: &Envelope) -> Result<(), HandlerError> {
        let Some(id) = event.data.get("id").and_then(Value::as_str) else {
            return Err(HandlerError::Reject("flow.stopping without a flow id".into()));
        };
        let tenant = event
            .data
            .get("tenant")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let version = event.data.get("version").and_then(Value::as_i64).unwrap_or(0);
        let mut tx = self.store.db().begin().await.map_err(retry)?;
        if self.is_stale(&mut tx, id, &event.time).await.map_err(retry)? {
            return Ok(());
        }
        let applied = self
            .store
            .put_flow(
                &mut tx,
                id,
                tenant,
                "",
                version,
                &event.data,
                false,
                &event.time,
                None,
            )
            .await
            .map_err(retry)?;
        if !applied {
            return Ok(()); // a later change was applied by another replica
        }
        let reply = Envelope::new(types::FLOW_STOPPED, SOURCE, json!({"flowId": id})).with_tenant(tenant);
        outbox::enqueue(&mut tx, &reply).await.map_err(retry)?;
        tx.commit().await.map_err(retry)?;
        self.registry.invalidate(id);
        tracing::info!(flow_id = id, "flow stopped");
        Ok(())
    }

    async fn is_stale(
        &self,
        tx: &mut flowmate_store::Tx,
        id: &str,
        event_time: &str,
    ) -> Result<bool, StoreError> {
        let changed = self.store.flow_changed_at(tx, id).await?;
        Ok(changed.is_some_and(|c| c.as_str() > event_time))
    }
}

#[async_trait]
impl Handler for Lifecycle {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match delivery.envelope.kind.as_str() {
            types::FLOW_STARTING => self.starting(&delivery.envelope).await,
            types::FLOW_STOPPING => self.stopping(&delivery.envelope).await,
            _ => Ok(()),
        }
    }
}

/// After a start, makes sure every flow the flow repository lists as active runs here too (for example when
/// this service's database was restored or replaced): missing ones are registered without events. Retries until
/// the flow repository answers or `shutdown`.
pub fn start_reconcile(
    flows_url: String,
    timeout: Duration,
    store: Store,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(200);
        loop {
            match reconcile(&flows_url, timeout, &store, &registry).await {
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

async fn reconcile(
    url: &str,
    timeout: Duration,
    store: &Store,
    registry: &Registry,
) -> anyhow::Result<usize> {
    let channel = flowmate_proto::transport::connect(url, Some(timeout))?;
    let mut client =
        FlowRepositoryClient::new(channel).max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
    let known: std::collections::HashSet<String> = store.running_ids().await?.into_iter().collect();
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
            if known.contains(&flow.id) {
                continue;
            }
            let by = started_by(&flow, &data);
            let Ok(plan) = Plan::compile(&flow, &by) else {
                tracing::warn!(flow_id = %flow.id, "an active flow no longer compiles; not registered");
                continue;
            };
            let schedule = next_due(&plan);
            let mut tx = store.db().begin().await?;
            if store.flow_changed_at(&mut tx, &flow.id).await?.is_some() {
                continue; // this service knows better (it saw a later event)
            }
            store
                .put_flow(
                    &mut tx,
                    &flow.id,
                    &flow.body.tenant,
                    &by,
                    flow.version,
                    &data,
                    true,
                    &flow.updated_at,
                    schedule.as_ref().map(|(c, n)| (c.as_str(), n.as_str())),
                )
                .await?;
            tx.commit().await?;
            registry.invalidate(&flow.id);
            added += 1;
        }
        if page.next_after_id.is_empty() {
            return Ok(added);
        }
        after = page.next_after_id;
    }
}
