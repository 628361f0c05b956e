//! The flows this replica may run, compiled, cached in memory. Fed by this replica's own lifecycle handling and,
//! for changes made by other replicas, by a per-replica copy of `flow.started` / `flow.stopped`; a miss reads
//! the shared database. Because such a copy can be lost (the per-replica queue goes away with a broken broker
//! connection), an entry older than a few seconds is revalidated with one primary-key read before it is used.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use flowmate_domain::flow::Flow;
use flowmate_store::StoreError;

use crate::{
    model::{ExecutionStore, FlowMarker},
    plan::Plan,
};

/// The most entries kept; beyond it the cache starts over (it is only a cache).
const MAX_ENTRIES: usize = 100_000;
/// How long an entry is used without looking at the database.
const FRESH: Duration = Duration::from_secs(2);

struct Entry {
    plan: Option<Arc<Plan>>,
    /// The flow's marker when loaded.
    marker: Option<FlowMarker>,
    checked: Instant,
}

/// Compiled running flows by id (`None`: known not to run here).
pub struct Registry {
    store: Arc<dyn ExecutionStore>,
    cache: RwLock<HashMap<String, Entry>>,
    epoch: AtomicU64,
}

impl Registry {
    /// An empty registry over `store`.
    pub fn new(store: Arc<dyn ExecutionStore>) -> Registry {
        Registry {
            store,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    /// The flow's plan if it runs.
    pub async fn get(&self, flow_id: &str) -> Result<Option<Arc<Plan>>, StoreError> {
        let cached = self.cache.read().ok().and_then(|cache| {
            cache
                .get(flow_id)
                .map(|e| (e.plan.clone(), e.marker.clone(), e.checked.elapsed() < FRESH))
        });
        if let Some((plan, marker, fresh)) = cached {
            if fresh {
                return Ok(plan);
            }
            if self.store.flow_marker(flow_id).await? == marker {
                if let Ok(mut cache) = self.cache.write() {
                    if let Some(e) = cache.get_mut(flow_id) {
                        e.checked = Instant::now();
                    }
                }
                return Ok(plan);
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let (marker, running) = match self.store.running_flow(flow_id).await? {
            Some((marker, running)) => (Some(marker), running),
            None => (None, None),
        };
        let plan = match running {
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
                cache.insert(
                    flow_id.to_owned(),
                    Entry {
                        plan: plan.clone(),
                        marker,
                        checked: Instant::now(),
                    },
                );
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
