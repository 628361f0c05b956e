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
pub mod expr;
pub mod grpc;
pub mod http;
pub mod lifecycle;
pub mod model;
pub mod plan;
pub mod registry;
pub mod store;
pub mod timers;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use flowmate_auth::{
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_domain::{event::types, execution::WORK_QUEUE};
use flowmate_proto::{executions::v1::executions_server::ExecutionsServer, MAX_MESSAGE_BYTES};
use flowmate_store::{outbox, Db, Migrations};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

pub use crate::config::ExecutionConfig;

/// The `source` of the events this service publishes.
pub const SOURCE: &str = "flowmate/execution";

/// The durable queue `flow.starting` / `flow.stopping` are consumed from (shared by every replica).
pub const LIFECYCLE_GROUP: &str = "execution.lifecycle";

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The execution service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A started execution service.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight executions are committed.
    pub task: JoinHandle<()>,
}

/// Opens the database, starts the lifecycle consumer, the workers, the timers, the outbox relay and the token
/// sync, and serves gRPC plus `/healthz`, `/readyz` and `/metrics` until `shutdown`.
pub async fn start(
    config: ExecutionConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let store = store::Store::new(db.clone());
    let registry = Arc::new(registry::Registry::new(store.clone()));

    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(keys, verifier.clone(), Duration::from_secs(30), shutdown.clone());
    let revocations =
        flowmate_auth::sync::subscribe_revocations(&bus, "execution", verifier.clone(), shutdown.clone())
            .await?;

    let credentials = Arc::new(credentials::Credentials::new(
        &config.secrets_url,
        config.rpc_timeout,
        config.service_token.as_deref(),
    )?);
    let runtime = components::Runtime {
        http: http::HttpCaller::new(config.http_allow_private_network, config.http_timeout)?,
        limits: expr::Limits {
            timeout: config.expression_timeout,
        },
        credentials: Some(credentials.clone()),
    };
    let wake = Arc::new(Notify::new());
    let engine = Arc::new(engine::Engine::new(
        store.clone(),
        registry.clone(),
        runtime,
        config.max_steps,
        config.max_output_bytes,
        wake.clone(),
        bus.clone(),
    ));

    // Every replica applies the others' lifecycle decisions to its cache.
    let invalidations = bus
        .subscribe(
            SubscribeOptions {
                exclusive: true,
                ..SubscribeOptions::new(
                    format!("execution.registry.{}", uuid::Uuid::new_v4().simple()),
                    &[types::FLOW_STARTED, types::FLOW_STOPPED],
                )
            },
            Arc::new(registry::Invalidations(registry.clone())),
            shutdown.clone(),
        )
        .await?;
    // Every replica drops the secrets it cached when they change or are deleted.
    let secret_changes = bus
        .subscribe(
            SubscribeOptions {
                exclusive: true,
                ..SubscribeOptions::new(
                    format!("execution.secrets.{}", uuid::Uuid::new_v4().simple()),
                    &[types::SECRET_MODIFIED, types::SECRET_DELETED],
                )
            },
            Arc::new(credentials::Invalidations(credentials.clone())),
            shutdown.clone(),
        )
        .await?;
    let lifecycle = bus
        .subscribe(
            SubscribeOptions {
                prefetch: 1,
                ..SubscribeOptions::new(LIFECYCLE_GROUP, &[types::FLOW_STARTING, types::FLOW_STOPPING])
            },
            Arc::new(
                lifecycle::Lifecycle::new(store.clone(), registry.clone()).with_credentials(credentials),
            ),
            shutdown.clone(),
        )
        .await?;
    let workers = bus
        .subscribe(
            SubscribeOptions {
                prefetch: config.concurrency,
                // Transient failures (a database failover) are retried for about 50 minutes before a trigger is
                // dead-lettered; triggers that can never run are rejected at once.
                max_attempts: 100,
                retry_backoff: Duration::from_millis(500),
                ..SubscribeOptions::new(WORK_QUEUE, &[types::FLOW_EXECUTE, types::EXECUTION_RESUME])
            },
            Arc::new(engine::Worker(engine)),
            shutdown.clone(),
        )
        .await?;
    let relay = outbox::start_relay(db.clone(), bus.clone(), shutdown.clone());
    let clocks = timers::start(store.clone(), wake, shutdown.clone());
    let purge = match config.retention {
        Some(retention) => timers::start_purge(store.clone(), retention, shutdown.clone()),
        None => tokio::spawn(async {}),
    };
    let reconcile = lifecycle::start_reconcile(
        config.flows_url.clone(),
        config.rpc_timeout,
        store.clone(),
        registry.clone(),
        shutdown.clone(),
    );

    let core = Arc::new(core::ExecutionCore::new(store, registry));
    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let server = ExecutionsServer::new(grpc::ExecutionGrpc::new(core, verifier.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let grpc = tonic::service::Routes::new(server).into_axum_router();
    let keys_loaded = verifier.clone();
    let ready = flowmate_store::readiness(db.clone(), bus, move || {
        if keys_loaded.has_keys() {
            Ok(())
        } else {
            Err("identity keys not loaded yet".into())
        }
    });
    let task = tokio::spawn(async move {
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "execution", grpc, ready, shutdown).await {
            tracing::error!(error = %e, "execution service failed");
        }
        for task in [
            sync,
            revocations,
            invalidations,
            secret_changes,
            lifecycle,
            workers,
            relay,
            clocks,
            purge,
            reconcile,
        ] {
            let _ = task.await;
        }
        db.close().await;
    });
    tracing::info!(%addr, "execution service listening");
    Ok(Running { addr, task })
}
