//! The identity service: tenants, users, roles and permissions; login with Argon2id passwords and per-account
//! throttling; EdDSA-signed JWTs whose public key is served over gRPC so every service verifies tokens locally;
//! logout and user deactivation revoke tokens at once. Changes are announced as `iam.*` events via the outbox.

pub mod bootstrap;
pub mod config;
pub mod core;
pub mod directory;
pub mod error;
pub mod grpc;
pub mod model;
mod passwords;
pub mod store;
pub mod users;

use std::{net::SocketAddr, sync::Arc};

use flowmate_bus::SharedBus;
use flowmate_proto::identity::v1::identity_server::IdentityServer;
use flowmate_store::{outbox, Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::{bootstrap::FirstStart, config::IdentityConfig};

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The identity service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A started identity service.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// What first start created (the admin login), if this start created it.
    pub first_start: Option<FirstStart>,
    /// Ends after `shutdown` once in-flight requests are done.
    pub task: JoinHandle<()>,
}

/// Opens the database, seeds it on first start, starts the outbox relay and serves gRPC plus `/healthz`,
/// `/readyz` and `/metrics` until `shutdown` is cancelled.
pub async fn start(
    config: IdentityConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let store = Arc::new(store::SqlStore::new(db.clone()));
    let core = Arc::new(core::IdentityCore::new(store, config.policy.clone()).await?);
    let first_start = core
        .bootstrap(
            &config.admin_username,
            config.admin_password.clone(),
            &config.default_tenant,
        )
        .await?;
    let relay = outbox::start_relay(db.clone(), bus.clone(), shutdown.clone());
    // Other identity replicas revoke tokens too; this replica must hear of it.
    let revocations = flowmate_auth::sync::subscribe_revocations(
        &bus,
        "identity",
        core.verifier().clone(),
        shutdown.clone(),
    )
    .await?;

    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let grpc = {
        let server = IdentityServer::new(grpc::IdentityGrpc::new(core))
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
        tonic::service::Routes::new(server).into_axum_router()
    };
    let ready = flowmate_store::readiness(db.clone(), bus, || Ok(()));
    let task = tokio::spawn(async move {
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "identity", grpc, ready, shutdown).await {
            tracing::error!(error = %e, "identity server failed");
        }
        let _ = relay.await;
        let _ = revocations.await;
        db.close().await;
    });
    tracing::info!(%addr, "identity service listening");
    Ok(Running {
        addr,
        first_start,
        task,
    })
}
