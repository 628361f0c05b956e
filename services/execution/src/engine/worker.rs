//! Where triggers arrive: the [`Worker`] consumes the work queue (`flow.execute`, `execution.resume`) and hands
//! each message to the [`Engine`], which runs it.
//!
//! A trigger's message goes along every edge whose condition holds, through the edge's mapper; a step that emits
//! several messages fans out. Steps with outside effects are checkpointed as soon as they finish, so a redelivered
//! trigger resumes after them instead of repeating them. A delay or a retry backoff parks the execution (its
//! state saved with a due time) and the worker moves on; the timers resume it on time, after a restart too. The
//! trigger is acked only after the final state is committed, in the same transaction as `execution.finished` (when a
//! queue is bound to it) and a sync caller's reply.

use std::sync::Arc;

use flowmate_bus::{Delivery, Handler, HandlerError, SharedBus};
use flowmate_domain::event::types;
use tokio::sync::{Notify, Semaphore};

use crate::{components::Runtime, model::ExecutionStore, registry::Registry};

/// Consumes the work queue: `flow.execute` and `execution.resume`.
pub struct Worker(pub Arc<Engine>);

#[async_trait::async_trait]
impl Handler for Worker {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match delivery.envelope.kind.as_str() {
            types::FLOW_EXECUTE => self.0.execute(delivery.envelope).await,
            types::EXECUTION_RESUME => self.0.resume(&delivery.envelope).await,
            other => Err(HandlerError::Reject(format!("unexpected message {other}"))),
        }
    }
}

/// The engine's bounds.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The most steps one execution may run.
    pub max_steps: u32,
    /// Recorded inputs and outputs larger than this (bytes of JSON) are replaced by a marker.
    pub max_output_bytes: usize,
    /// The deepest chain of `flow.call`s (`FLOWMATE_EXECUTION_MAX_DEPTH`).
    pub max_depth: u32,
    /// The public base URL of the API, for `wait.event` resume URLs (`FLOWMATE_PUBLIC_URL`).
    pub public_url: String,
}

/// Runs executions.
pub struct Engine {
    pub(super) store: Arc<dyn ExecutionStore>,
    pub(super) registry: Arc<Registry>,
    pub(super) runtime: Runtime,
    pub(super) settings: EngineSettings,
    /// Signalled when an execution parks, so the timers re-plan.
    pub(super) wake: Arc<Notify>,
    /// Tells whether anyone listens to `execution.finished`.
    pub(super) bus: SharedBus,
    /// Room for sync triggers run inline (`inline`).
    pub(super) inline: Arc<Semaphore>,
}

impl Engine {
    /// An engine over `store`; `wake` is signalled when an execution parks, so the timers re-plan. Its events
    /// go out through the store's outbox to `bus`.
    pub fn new(
        store: Arc<dyn ExecutionStore>,
        registry: Arc<Registry>,
        runtime: Runtime,
        settings: EngineSettings,
        wake: Arc<Notify>,
        bus: SharedBus,
    ) -> Engine {
        Engine {
            store,
            registry,
            runtime,
            settings,
            wake,
            bus,
            inline: Arc::new(Semaphore::new(super::INLINE_RUNS)),
        }
    }
}

/// A message that cannot be handled now but may be later (a database failover): it is redelivered.
pub(super) fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}
