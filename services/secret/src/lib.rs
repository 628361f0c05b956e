//! The secret service (API.md §9, ARCHITECTURE.md "Bounded contexts"): tenant-owned credentials that steps use and
//! nobody sees. Values are sealed per value with AES-256-GCM under a keyring (`flowmate_auth::secrets`), shown as
//! `"***"`, resolved for a step only for a flow of the secret's tenant, and OAuth2 tokens are refreshed one at a
//! time per secret across replicas. It serves gRPC (`flowmate.secrets.v1`) and publishes `secret.*` through the
//! outbox.

pub mod config;
pub mod core;
pub mod error;
pub mod events;
pub mod grpc;
pub mod model;
pub mod oauth;
pub mod rotate;
pub mod store;
pub mod values;

use std::sync::Arc;

use anyhow::Context;
use flowmate_auth::secrets::SecretBox;
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_config::{ExposeSecret, Settings};
use flowmate_domain::event::types;
use flowmate_proto::{secrets::v1::secrets_server::SecretsServer, MAX_MESSAGE_BYTES};
use flowmate_runtime::{Running, ServiceHost, KEY_REFRESH};
use flowmate_store::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use crate::config::SecretConfig;

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The secret service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// The keyring of `config`; the service cannot run without one.
pub fn keyring(config: &SecretConfig) -> anyhow::Result<SecretBox> {
    let text = config
        .secrets_keys
        .as_ref()
        .context("the secret service needs FLOWMATE_SECRETS_KEYS (or FLOWMATE_SECRETS_KEY)")?;
    Ok(SecretBox::from_keys(text.expose_secret())?)
}

/// Opens the database, consumes the flow events that release secrets, and serves the secrets API over gRPC until
/// `shutdown`.
pub async fn start(
    config: SecretConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let keys = Arc::new(keyring(&config)?);
    let service_token = config
        .service_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned());
    if service_token.is_none() {
        tracing::warn!(
            "no service token configured: internal calls are protected by the network policy alone"
        );
    }
    let mut host = ServiceHost::new("secret", bus, shutdown);
    let db = host
        .open_database(
            config.database_url.expose_secret(),
            config.max_connections,
            MIGRATIONS,
        )
        .await?;
    let verifier = host
        .verify_tokens(&config.identity_url, config.rpc_timeout, KEY_REFRESH)
        .await?;
    let store: Arc<dyn model::SecretStore> = Arc::new(store::SqlStore::new(db));
    host.subscribe(
        SubscribeOptions::new(events::FLOWS_GROUP, &[types::FLOW_STOPPING, types::FLOW_DELETED]),
        Arc::new(events::FlowEvents(store.clone())),
    )
    .await?;
    let tokens = oauth::TokenClient::new(config.token_timeout, config.allow_private_network)?;
    let core = Arc::new(core::SecretCore::new(store, keys, tokens));
    let server = SecretsServer::new(grpc::SecretGrpc::new(core, verifier, service_token.as_deref()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    host.serve(
        config.grpc_addr,
        tonic::service::Routes::new(server).into_axum_router(),
    )
    .await
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service secret`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(SecretConfig::from_settings(&settings), bus, shutdown).await
}

/// `flowmate secrets rotate`: re-seals every value of the database in `config` with the first key of its keyring.
pub async fn rotate_keys(
    config: &SecretConfig,
    progress: impl FnMut(store::SealedTable, &rotate::RotationReport),
) -> anyhow::Result<rotate::RotationReport> {
    let keys = keyring(config)?;
    let db = Db::connect(
        config.database_url.expose_secret(),
        config.max_connections.min(4),
        MIGRATIONS,
    )
    .await?;
    let report = rotate::rotate(&store::SqlStore::new(db.clone()), &keys, progress).await;
    db.close().await;
    report
}
