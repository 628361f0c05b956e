//! The identity service: tenants, users, roles and permissions; login with Argon2id passwords and per-account
//! throttling; EdDSA-signed JWTs whose public key is served over gRPC so every service verifies tokens locally;
//! logout and user deactivation revoke tokens at once. Changes are announced as `iam.*` events via the outbox.

pub mod bootstrap;
pub mod config;
pub mod core;
pub mod directory;
pub mod error;
pub mod grpc;
mod guard;
pub mod model;
mod passwords;
pub mod store;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use flowmate_bus::SharedBus;
use flowmate_config::{ExposeSecret, Settings};
use flowmate_proto::identity::v1::identity_server::IdentityServer;
use flowmate_runtime::{Running, ServiceHost};
use flowmate_store::Migrations;
use tokio_util::sync::CancellationToken;

pub use crate::{bootstrap::FirstStart, config::IdentityConfig};

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The identity service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// Opens the database, seeds it on first start and serves the identity API over gRPC until `shutdown`. Returns
/// the admin login first start created, if this start did.
pub async fn start(
    config: IdentityConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<(Running, Option<FirstStart>)> {
    let mut host = ServiceHost::new("identity", bus, shutdown);
    let db = host
        .open_database(
            config.database_url.expose_secret(),
            config.max_connections,
            MIGRATIONS,
        )
        .await?;
    let store = Arc::new(store::SqlStore::new(db));
    let core = Arc::new(core::IdentityCore::new(store, config.policy.clone()).await?);
    let first_start = core
        .bootstrap(
            &config.admin_username,
            config
                .admin_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
            &config.default_tenant,
        )
        .await?;
    // Other identity replicas revoke tokens too; this replica must hear of it.
    host.follow_revocations(core.verifier().clone()).await?;
    let server = IdentityServer::new(grpc::IdentityGrpc::new(core))
        .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
    let running = host
        .serve(
            config.grpc_addr,
            tonic::service::Routes::new(server).into_axum_router(),
        )
        .await?;
    Ok((running, first_start))
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service identity`), printing the
/// admin login when this start created it.
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let (running, first_start) = start(IdentityConfig::from_settings(&settings), bus, shutdown).await?;
    if let Some(first) = &first_start {
        bootstrap::print_first_start(first);
    }
    Ok(running)
}
