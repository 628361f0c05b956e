//! The execution service (API.md §5–§6, ARCHITECTURE.md "How a webhook becomes an execution"): it decides whether
//! a flow can start and registers its triggers, runs every trigger from the durable work queue through the flow's
//! graph, records each execution step by step, resumes parked executions and fires schedules, and serves the
//! executions API and the component catalogue over gRPC.

pub mod components;
pub mod config;
pub mod core;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod events;
pub mod expr;
pub mod fair;
pub mod grpc;
pub mod model;
pub mod plan;
pub mod reconcile;
pub mod registry;
pub mod store;
pub mod timers;

use std::{sync::Arc, time::Duration};

use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_config::{ExposeSecret, Settings};
use flowmate_domain::event::types;
use flowmate_proto::{executions::v1::executions_server::ExecutionsServer, MAX_MESSAGE_BYTES};
use flowmate_runtime::{Running, ServiceHost, KEY_REFRESH};
use flowmate_store::Migrations;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use crate::config::ExecutionConfig;

/// The `source` of the events this service publishes.
pub const SOURCE: &str = "flowmate/execution";

/// The durable queue `flow.starting` / `flow.stopping` are consumed from (shared by every replica).
pub const LIFECYCLE_GROUP: &str = "execution.lifecycle";

/// The durable queue children's results (`execution.child.done`) are consumed from (shared by every replica).
pub const CHILDREN_GROUP: &str = "execution.children";

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The execution service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// What the components run with: outbound HTTP, expression limits, the code sandbox (its threads and limits), the
/// credentials of the secret service and the store `dedupe.check` keeps its keys in.
fn components_runtime(
    config: &ExecutionConfig,
    credentials: &Arc<credentials::Credentials>,
    store: &Arc<dyn model::ExecutionStore>,
) -> anyhow::Result<components::Runtime> {
    let threads = match config.code_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let code = components::code::CodeRunner::new(
        threads,
        components::code::Limits::new(config.code_memory_mb, config.code_max_result_bytes),
    )?;
    Ok(components::Runtime {
        http: components::outbound::HttpCaller::new(config.http_allow_private_network, config.http_timeout)?,
        limits: expr::Limits {
            timeout: config.expression_timeout,
        },
        code,
        code_timeout: config.code_timeout,
        credentials: Some(credentials.clone()),
        store: Some(store.clone()),
        connectors: components::connectors::Connectors::new(config.sql_sqlite_dir.clone())
            .guarding_bus(config.bus_url.as_ref().map(|u| u.expose_secret())),
    })
}

/// Opens the database, starts the lifecycle consumer, the workers, the timers and the reconciliation with the
/// flow repository, and serves the executions API over gRPC until `shutdown`.
pub async fn start(
    config: ExecutionConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut host = ServiceHost::new("execution", bus.clone(), shutdown.clone());
    let db = host
        .open_database(
            config.database_url.expose_secret(),
            config.max_connections,
            MIGRATIONS,
        )
        .await?;
    let store: Arc<dyn model::ExecutionStore> = Arc::new(store::SqlStore::new(db));
    let registry = Arc::new(registry::Registry::new(store.clone()));
    let credentials = Arc::new(credentials::Credentials::new(
        &config.secrets_url,
        config.rpc_timeout,
        config.service_token.as_ref().map(|t| t.expose_secret()),
    )?);
    let verifier = host
        .verify_tokens(&config.identity_url, config.rpc_timeout, KEY_REFRESH)
        .await?;

    let runtime = components_runtime(&config, &credentials, &store)?;
    // amqp.consume triggers: one consumer per running flow on every replica.
    host.spawn(components::connectors::consume::start(
        store.clone(),
        registry.clone(),
        credentials.clone(),
        bus.clone(),
        config.bus_url.as_ref().map(|u| u.expose_secret()),
        shutdown.clone(),
    ));
    let wake = Arc::new(Notify::new());
    let core = Arc::new(
        core::ExecutionCore::new(store.clone(), registry.clone(), runtime.code.clone())
            .with_credentials(credentials.clone())
            .with_wake(wake.clone()),
    );
    let engine = Arc::new(engine::Engine::new(
        store.clone(),
        registry.clone(),
        runtime,
        engine::EngineSettings {
            max_steps: config.max_steps,
            max_output_bytes: config.max_output_bytes,
            max_depth: config.max_depth,
            public_url: config.public_url.clone(),
        },
        wake.clone(),
        bus.clone(),
    ));

    follow_changes(&mut host, &registry, credentials).await?;
    host.subscribe(
        SubscribeOptions {
            prefetch: 1,
            // As for triggers: a database failover must not dead-letter a start (the flow would stay `starting`).
            max_attempts: 100,
            retry_backoff: Duration::from_millis(500),
            ..SubscribeOptions::new(LIFECYCLE_GROUP, &[types::FLOW_STARTING, types::FLOW_STOPPING])
        },
        Arc::new(events::Lifecycle(core.clone())),
    )
    .await?;
    consume_work(&mut host, engine.clone(), config.concurrency).await?;
    // A waiting `flow.call`'s child finished: its result resumes the parent.
    host.subscribe(
        SubscribeOptions {
            max_attempts: 100,
            retry_backoff: Duration::from_millis(500),
            ..SubscribeOptions::new(CHILDREN_GROUP, &[types::EXECUTION_CHILD_DONE])
        },
        Arc::new(events::ChildDone(core.clone())),
    )
    .await?;
    host.spawn(timers::start(store.clone(), wake, shutdown.clone()));
    host.spawn(timers::start_dedupe_purge(store.clone(), shutdown.clone()));
    host.spawn(timers::start_quotas(store.clone(), shutdown.clone()));
    if let Some(retention) = config.retention {
        host.spawn(timers::start_purge(store.clone(), retention, shutdown.clone()));
    }
    host.spawn(reconcile::start(
        config.flows_url.clone(),
        config.rpc_timeout,
        core.clone(),
        shutdown,
    ));

    let server = ExecutionsServer::new(grpc::ExecutionGrpc::new(core, engine, verifier))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    host.serve(
        config.grpc_addr,
        tonic::service::Routes::new(server).into_axum_router(),
    )
    .await
}

/// Consumes every work queue (the shards and the unsharded one), each in its own lane of one gate: at most
/// `concurrency` triggers run at once, and a freed slot goes to the lanes in turn (see `fair`).
async fn consume_work(
    host: &mut ServiceHost,
    engine: Arc<engine::Engine>,
    concurrency: u16,
) -> anyhow::Result<()> {
    let queues = flowmate_domain::execution::work_queues();
    let gate = fair::FairGate::new(usize::from(concurrency), queues.len());
    let worker: Arc<dyn flowmate_bus::Handler> = Arc::new(engine::Worker(engine));
    for (lane, (queue, patterns)) in queues.into_iter().enumerate() {
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let gated = fair::Gated {
            inner: worker.clone(),
            gate: gate.clone(),
            lane,
        };
        host.subscribe(
            SubscribeOptions {
                prefetch: concurrency,
                // Transient failures (a database failover) are retried for about 50 minutes before a trigger is
                // dead-lettered; triggers that can never run are rejected at once.
                max_attempts: 100,
                retry_backoff: Duration::from_millis(500),
                ..SubscribeOptions::new(queue, &patterns)
            },
            Arc::new(gated),
        )
        .await?;
    }
    Ok(())
}

/// Every replica applies the others' lifecycle decisions to its cache of plans, and drops the secrets it cached
/// when they change or are deleted (queues of its own).
async fn follow_changes(
    host: &mut ServiceHost,
    registry: &Arc<registry::Registry>,
    credentials: Arc<credentials::Credentials>,
) -> anyhow::Result<()> {
    host.subscribe(
        SubscribeOptions {
            exclusive: true,
            ..SubscribeOptions::new(
                format!("execution.registry.{}", uuid::Uuid::new_v4().simple()),
                &[types::FLOW_STARTED, types::FLOW_STOPPED],
            )
        },
        Arc::new(events::Invalidations(registry.clone())),
    )
    .await?;
    host.subscribe(
        SubscribeOptions {
            exclusive: true,
            ..SubscribeOptions::new(
                format!("execution.secrets.{}", uuid::Uuid::new_v4().simple()),
                &[types::SECRET_MODIFIED, types::SECRET_DELETED],
            )
        },
        Arc::new(credentials::Invalidations(credentials)),
    )
    .await?;
    Ok(())
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service execution`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(ExecutionConfig::from_settings(&settings), bus, shutdown).await
}
