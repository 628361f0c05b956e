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
pub mod reseal;
pub mod store;
pub mod webhooks;

use std::sync::Arc;

use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_config::{ExposeSecret, Settings};
use flowmate_domain::event::types;
use flowmate_proto::flows::v1::flow_repository_server::FlowRepositoryServer;
use flowmate_runtime::{Running, ServiceHost, KEY_REFRESH};
use flowmate_store::Migrations;
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

/// Opens the database, consumes the execution service's confirmations, prunes old versions, and serves the flow
/// API over gRPC until `shutdown`.
pub async fn start(
    config: FlowConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut host = ServiceHost::new("flow-repository", bus, shutdown);
    let db = host
        .open_database(
            config.database_url.expose_secret(),
            config.max_connections,
            MIGRATIONS,
        )
        .await?;
    let secrets = match &config.secrets_key {
        Some(key) => Some(Arc::new(flowmate_auth::secrets::SecretBox::from_keys(
            key.expose_secret(),
        )?)),
        None => {
            tracing::warn!("no secrets key configured: flows cannot store webhook HMAC secrets");
            None
        }
    };
    host.spawn(keep_flow_tables(db.clone(), host.shutdown().clone()));
    if let Some(keys) = &secrets {
        host.spawn(tokio::spawn(reseal::at_start(db.clone(), keys.clone())));
    }
    let core = Arc::new(core::FlowCore::new(Arc::new(store::SqlStore::new(db))).with_secrets(secrets));
    let verifier = host
        .verify_tokens(&config.identity_url, config.rpc_timeout, KEY_REFRESH)
        .await?;
    host.subscribe(
        SubscribeOptions {
            // A database failover must not dead-letter a confirmation (the flow would stay `starting`).
            max_attempts: 100,
            retry_backoff: std::time::Duration::from_millis(500),
            ..SubscribeOptions::new(
                CONFIRMATIONS_GROUP,
                &[types::FLOW_STARTED, types::FLOW_STOPPED, types::FLOW_FAILED],
            )
        },
        Arc::new(lifecycle::Confirmations(core.clone())),
    )
    .await?;
    host.spawn(lifecycle::start_pruning(core.clone(), host.shutdown().clone()));
    let server = FlowRepositoryServer::new(grpc::FlowGrpc::new(core, verifier))
        .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
    host.serve(
        config.grpc_addr,
        tonic::service::Routes::new(server).into_axum_router(),
    )
    .await
}

/// Vacuums and analyzes the flow tables every [`flowmate_runtime::host::ANALYZE_EVERY`] (PostgreSQL only): flows
/// created one at a time also end up in the visibility map, so the member's count stays an index-only scan.
fn keep_flow_tables(db: flowmate_store::Db, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if db.backend() != flowmate_store::Backend::Postgres {
            return;
        }
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(flowmate_runtime::host::ANALYZE_EVERY) => {}
            }
            if let Err(error) = db.refresh_tables(&["flows", "flow_owners"]).await {
                tracing::warn!(%error, "refreshing the flow tables failed");
            }
        }
    })
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service flow-repository`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(FlowConfig::from_settings(&settings), bus, shutdown).await
}
