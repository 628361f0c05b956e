//! The flow repository: flows with their owners, versions and status machine (API.md §3). It validates every
//! flow, scopes every read and write to the caller's user and tenant, announces changes (`flow.created`,
//! `flow.modified`, `flow.deleted`, `flow.starting`, `flow.stopping`) through the outbox, and applies the execution
//! service's `flow.started`, `flow.stopped` and `flow.failed` once per event.

pub mod config;
pub mod core;
pub mod error;
pub mod grpc;
pub mod lifecycle;
pub mod model;
pub mod store;
pub mod webhooks;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use flowmate_auth::{
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_domain::event::types;
use flowmate_proto::flows::v1::flow_repository_server::FlowRepositoryServer;
use flowmate_store::{outbox, Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::config::FlowConfig;

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The flow repository's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// The durable queue the status confirmations are consumed from (shared by every replica).
pub const CONFIRMATIONS_GROUP: &str = "flow-repository.confirmations";

/// A started flow repository.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight work is done.
    pub task: JoinHandle<()>,
}

/// Opens the database, starts the outbox relay, the confirmation consumer and the token sync, and serves gRPC
/// plus `/healthz`, `/readyz` and `/metrics` until `shutdown`.
pub async fn start(
    config: FlowConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let secrets = match config.secrets_key.as_deref() {
        Some(key) => Some(Arc::new(flowmate_auth::secrets::SecretBox::from_keys(key)?)),
        None => {
            tracing::warn!("no secrets key configured: flows cannot store webhook HMAC secrets");
            None
        }
    };
    let core =
        Arc::new(core::FlowCore::new(Arc::new(store::SqlStore::new(db.clone()))).with_secrets(secrets));

    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(keys, verifier.clone(), Duration::from_secs(30), shutdown.clone());
    let revocations = flowmate_auth::sync::subscribe_revocations(
        &bus,
        "flow-repository",
        verifier.clone(),
        shutdown.clone(),
    )
    .await?;
    let confirmations = bus
        .subscribe(
            SubscribeOptions::new(
                CONFIRMATIONS_GROUP,
                &[types::FLOW_STARTED, types::FLOW_STOPPED, types::FLOW_FAILED],
            ),
            Arc::new(lifecycle::Confirmations(core.clone())),
            shutdown.clone(),
        )
        .await?;
    let relay = outbox::start_relay(db.clone(), bus.clone(), shutdown.clone());
    let pruning = lifecycle::start_pruning(core.clone(), shutdown.clone());

    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let grpc = tonic::service::Routes::new(
        FlowRepositoryServer::new(grpc::FlowGrpc::new(core, verifier.clone()))
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
    )
    .into_axum_router();
    let keys_loaded = verifier.clone();
    let ready = flowmate_store::readiness(db.clone(), bus, move || {
        if keys_loaded.has_keys() {
            Ok(())
        } else {
            Err("identity keys not loaded yet".into())
        }
    });
    let task = tokio::spawn(async move {
        if let Err(e) =
            flowmate_telemetry::ops::serve(listener, "flow-repository", grpc, ready, shutdown).await
        {
            tracing::error!(error = %e, "flow repository server failed");
        }
        for task in [sync, revocations, confirmations, relay, pruning] {
            let _ = task.await;
        }
        db.close().await;
    });
    tracing::info!(%addr, "flow repository listening");
    Ok(Running { addr, task })
}
