//! The flows this replica may run, compiled, cached in memory. Fed by this replica's own lifecycle handling and,
//! for changes made by other replicas, by a per-replica copy of `flow.started` / `flow.stopped`; a miss reads
//! the shared database.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::flow::Flow;
use flowmate_store::StoreError;
use serde_json::Value;

use crate::{plan::Plan, store::Store};

/// The most entries kept; beyond it the cache starts over (it is only a cache).
const MAX_ENTRIES: usize = 100_000;

/// Compiled running flows by id (`None`: known not to run here).
pub struct Registry {
    store: Store,
    cache: RwLock<HashMap<String, Option<Arc<Plan>>>>,
    epoch: AtomicU64,
}

impl Registry {
    /// An empty registry over `store`.
    pub fn new(store: Store) -> Registry {
        Registry {
            store,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    /// The flow's plan if it runs.
    pub async fn get(&self, flow_id: &str) -> Result<Option<Arc<Plan>>, StoreError> {
        if let Ok(cache) = self.cache.read() {
            if let Some(hit) = cache.get(flow_id) {
                return Ok(hit.clone());
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let plan = match self.store.running_flow(flow_id).await? {
            None => None,
            Some(running) => {
                let flow: Option<Flow> = serde_json::from_value(running.document).ok();
                match flow.map(|f| Plan::compile(&f, &running.started_by)) {
                    Some(Ok(plan)) => Some(Arc::new(plan)),
                    Some(Err(reason)) => {
                        tracing::warn!(flow_id, %reason, "a running flow no longer compiles");
                        None
                    }
                    None => None,
                }
            }
        };
        // Only cache what was read after the last invalidation.
        if let Ok(mut cache) = self.cache.write() {
            if self.epoch.load(Ordering::Acquire) == epoch {
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
                cache.insert(flow_id.to_owned(), plan.clone());
            }
        }
        Ok(plan)
    }

    /// Forgets what is known about `flow_id`.
    pub fn invalidate(&self, flow_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(flow_id);
        }
    }
}

/// Applies other replicas' lifecycle changes to this replica's cache.
pub struct Invalidations(pub Arc<Registry>);

#[async_trait]
impl Handler for Invalidations {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        if let Some(id) = delivery.envelope.data.get("flowId").and_then(Value::as_str) {
            self.0.invalidate(id);
        }
        Ok(())
    }
}
