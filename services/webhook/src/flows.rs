//! The active flows, in memory, so the hot path reads no database. Fed by a per-replica copy of
//! `flow.starting` (which carries the document), `flow.started` (which makes it active) and `flow.stopping`
//! (which removes it at once); filled at start from the flow repository, and for a `flow.started` whose
//! `flow.starting` this replica never saw, by asking for that one flow.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use async_trait::async_trait;
use flowmate_auth::secrets::SecretBox;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::{
    event::{
        payload::{FlowRef, FlowStarted, Payload},
        types,
    },
    flow::{
        webhooks::{HmacAlgorithm, ResponseMode, WebhookSettings},
        Flow,
    },
};
use flowmate_proto::flows::v1::{flow_repository_client::FlowRepositoryClient, ListActiveFlowsRequest};
use flowmate_proto::transport::{self, Transport};

/// `flowSettings.webhooks` of an active flow, ready to use.
#[derive(Debug, Clone, Default)]
pub struct HookSettings {
    /// `requireWebhookAuth`.
    pub require_auth: bool,
    /// The opened `hmacSecret`, if any (`Err`: it is set but cannot be opened with this service's key).
    pub hmac_secret: Option<Result<Vec<u8>, String>>,
    /// `hmacHeaderKey` (lower-case), default `x-hmac`.
    pub hmac_header: String,
    /// `hmacAlgorithm` is `sha512` (default `sha256`).
    pub sha512: bool,
    /// `allTenantUsers`: any user of the flow's tenant with `webhooks.execute` may call it.
    pub all_tenant_users: bool,
    /// `responseMode: "sync"`.
    pub sync: bool,
    /// `syncTimeoutMs`.
    pub sync_timeout: Option<Duration>,
    /// `rateLimit`: per second and burst.
    pub rate_limit: Option<(f64, u32)>,
}

/// An active flow as the webhook service needs it.
#[derive(Debug, Clone)]
pub struct HookFlow {
    /// Flow id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// User and tenant owner ids.
    pub owners: Vec<String>,
    /// Its trigger is the `webhook` component (only such flows accept webhooks).
    pub webhook_trigger: bool,
    /// Its webhook settings.
    pub settings: HookSettings,
}

impl HookFlow {
    /// Reads what webhooks need from a flow document; `secrets` opens the HMAC secret.
    pub fn from_flow(flow: &Flow, secrets: Option<&SecretBox>) -> HookFlow {
        let targets: std::collections::HashSet<&str> =
            flow.body.graph.edges.iter().map(|e| e.target.as_str()).collect();
        let triggers: Vec<_> = flow
            .body
            .graph
            .nodes
            .iter()
            .filter(|n| !targets.contains(n.id.as_str()))
            .collect();
        let webhook_trigger = matches!(triggers.as_slice(), [t] if t.component_id == "webhook");
        let w = match WebhookSettings::of(&flow.body.flow_settings) {
            Ok(w) => w.unwrap_or_default(),
            Err(e) => {
                // Checked when the flow was saved; a document that still does not read is refused, not guessed.
                tracing::error!(flow_id = %flow.id, error = %e, "webhook settings unreadable: callers must authenticate");
                WebhookSettings {
                    require_webhook_auth: Some(true),
                    ..WebhookSettings::default()
                }
            }
        };
        let hmac_secret = w.hmac_secret.as_deref().map(|sealed| match secrets {
            Some(b) => b.open(sealed).map(String::into_bytes).map_err(|e| e.to_string()),
            None => Err("no secrets key is configured".to_owned()),
        });
        let settings = HookSettings {
            require_auth: w.require_webhook_auth.unwrap_or(false),
            hmac_secret,
            hmac_header: w
                .hmac_header_key
                .as_deref()
                .unwrap_or("x-hmac")
                .to_ascii_lowercase(),
            sha512: w.hmac_algorithm == Some(HmacAlgorithm::Sha512),
            all_tenant_users: w.all_tenant_users.unwrap_or(false),
            sync: w.response_mode == Some(ResponseMode::Sync),
            sync_timeout: w.sync_timeout_ms.map(Duration::from_millis),
            rate_limit: w.bucket(),
        };
        HookFlow {
            id: flow.id.to_string(),
            tenant: flow.body.tenant.clone(),
            owners: flow.body.owners.iter().map(|o| o.id.clone()).collect(),
            webhook_trigger,
            settings,
        }
    }
}

/// Active flows by id, plus documents of flows that are starting.
pub struct ActiveFlows {
    active: RwLock<HashMap<String, Arc<HookFlow>>>,
    starting: RwLock<HashMap<String, Flow>>,
    secrets: Option<Arc<SecretBox>>,
    repository: FlowRepositoryClient<Transport>,
}

impl ActiveFlows {
    /// An empty cache that asks the flow repository at `flows_url` when it must.
    pub fn new(
        flows_url: &str,
        timeout: Duration,
        secrets: Option<Arc<SecretBox>>,
    ) -> anyhow::Result<ActiveFlows> {
        let channel = transport::connect(flows_url, Some(timeout))?;
        Ok(ActiveFlows {
            active: RwLock::new(HashMap::new()),
            starting: RwLock::new(HashMap::new()),
            secrets,
            repository: FlowRepositoryClient::new(channel)
                .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
        })
    }

    /// The active flow, if it is.
    pub fn get(&self, id: &str) -> Option<Arc<HookFlow>> {
        self.active.read().ok()?.get(id).cloned()
    }

    /// How many flows are active.
    pub fn len(&self) -> usize {
        self.active.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no flow is active.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes `hook` active as it is (tests and tools; the service itself learns flows from events).
    pub fn put(&self, hook: HookFlow) {
        if let Ok(mut active) = self.active.write() {
            active.insert(hook.id.clone(), Arc::new(hook));
        }
    }

    fn activate(&self, flow: &Flow) {
        let hook = Arc::new(HookFlow::from_flow(flow, self.secrets.as_deref()));
        if let Some(Err(e)) = &hook.settings.hmac_secret {
            tracing::error!(flow_id = %flow.id, error = %e, "the flow's hmacSecret cannot be opened; its webhooks will be refused");
        }
        if let Ok(mut active) = self.active.write() {
            active.insert(flow.id.to_string(), hook);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut active) = self.active.write() {
            active.remove(id);
        }
        if let Ok(mut starting) = self.starting.write() {
            starting.remove(id);
        }
    }

    /// Loads every active flow from the flow repository (at start; retried by the caller until it succeeds).
    pub async fn warm(&self) -> anyhow::Result<usize> {
        let mut after = String::new();
        let mut count = 0;
        loop {
            let page = self
                .repository
                .clone()
                .list_active_flows(ListActiveFlowsRequest {
                    limit: 500,
                    after_id: after.clone(),
                    ids: vec![],
                })
                .await?
                .into_inner();
            for doc in &page.flows {
                if let Ok(flow) = serde_json::from_str::<Flow>(&doc.json) {
                    self.activate(&flow);
                    count += 1;
                }
            }
            if page.next_after_id.is_empty() {
                return Ok(count);
            }
            after = page.next_after_id;
        }
    }

    /// Asks the flow repository for one flow that became active (its `flow.starting` was not seen here).
    async fn fetch(&self, id: &str) -> Result<bool, String> {
        let page = self
            .repository
            .clone()
            .list_active_flows(ListActiveFlowsRequest {
                limit: 1,
                after_id: String::new(),
                ids: vec![id.to_owned()],
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        match page
            .flows
            .first()
            .and_then(|d| serde_json::from_str::<Flow>(&d.json).ok())
        {
            Some(flow) => {
                self.activate(&flow);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Applies `flow.starting`, `flow.started` and `flow.stopping` to the cache.
pub struct FlowEvents(pub Arc<ActiveFlows>);

#[async_trait]
impl Handler for FlowEvents {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let event = &delivery.envelope;
        let cache = &self.0;
        match event.kind.as_str() {
            types::FLOW_STARTING => {
                let flow = Flow::from_data(&event.data)
                    .map_err(|e| HandlerError::Reject(format!("flow.starting without a flow: {e}")))?;
                if let Ok(mut starting) = cache.starting.write() {
                    starting.insert(flow.id.to_string(), flow);
                }
            }
            types::FLOW_STARTED => {
                let started = FlowStarted::from_data(&event.data)
                    .map_err(|e| HandlerError::Reject(format!("not a flow.started: {e}")))?;
                let id = started.flow_id.as_str();
                let pending = cache.starting.write().ok().and_then(|mut s| s.remove(id));
                match pending {
                    Some(flow) => cache.activate(&flow),
                    // The flow repository marks it active right after this event: ask until it does.
                    None => {
                        for _ in 0..20 {
                            if cache.fetch(id).await.map_err(HandlerError::Retry)? {
                                return Ok(());
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        tracing::warn!(
                            flow_id = id,
                            "a started flow is not active in the flow repository"
                        );
                    }
                }
            }
            types::FLOW_STOPPING | types::FLOW_FAILED => {
                let Some(id) = FlowRef::of(&event.data) else {
                    return Err(HandlerError::Reject(format!("{} without a flow id", event.kind)));
                };
                cache.remove(&id);
            }
            _ => {}
        }
        Ok(())
    }
}
