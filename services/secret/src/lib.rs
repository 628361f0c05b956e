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

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use flowmate_auth::{
    secrets::SecretBox,
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_domain::event::types;
use flowmate_proto::{secrets::v1::secrets_server::SecretsServer, MAX_MESSAGE_BYTES};
use flowmate_store::{outbox, Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::config::SecretConfig;

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The secret service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A started secret service.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight work is done.
    pub task: JoinHandle<()>,
}

/// The keyring of `config`; the service cannot run without one.
pub fn keyring(config: &SecretConfig) -> anyhow::Result<SecretBox> {
    let text = config
        .secrets_keys
        .as_deref()
        .context("the secret service needs FLOWMATE_SECRETS_KEYS (or FLOWMATE_SECRETS_KEY)")?;
    Ok(SecretBox::from_keys(text)?)
}

/// Opens the database, starts the outbox relay, the flow-event consumer and the token sync, and serves gRPC plus
/// `/healthz`, `/readyz` and `/metrics` until `shutdown`.
pub async fn start(
    config: SecretConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let keys = Arc::new(keyring(&config)?);
    if config.service_token.is_none() {
        tracing::warn!(
            "no service token configured: internal calls are protected by the network policy alone"
        );
    }
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let store: Arc<dyn model::SecretStore> = Arc::new(store::SqlStore::new(db.clone()));
    let tokens = oauth::TokenClient::new(config.token_timeout, config.allow_private_network)?;
    let core = Arc::new(core::SecretCore::new(store.clone(), keys, tokens));

    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(keys, verifier.clone(), Duration::from_secs(30), shutdown.clone());
    let revocations =
        flowmate_auth::sync::subscribe_revocations(&bus, "secret", verifier.clone(), shutdown.clone())
            .await?;
    let flow_events = bus
        .subscribe(
            SubscribeOptions::new(events::FLOWS_GROUP, &[types::FLOW_STOPPING, types::FLOW_DELETED]),
            Arc::new(events::FlowEvents(store)),
            shutdown.clone(),
        )
        .await?;
    let relay = outbox::start_relay(db.clone(), bus.clone(), shutdown.clone());

    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let service = grpc::SecretGrpc::new(core, verifier.clone(), config.service_token.as_deref());
    let server = SecretsServer::new(service)
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
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "secret", grpc, ready, shutdown).await {
            tracing::error!(error = %e, "secret service failed");
        }
        for task in [sync, revocations, flow_events, relay] {
            let _ = task.await;
        }
        db.close().await;
    });
    tracing::info!(%addr, "secret service listening");
    Ok(Running { addr, task })
}

/// `flowmate secrets rotate`: re-seals every value of the database in `config` with the first key of its keyring.
pub async fn rotate_keys(
    config: &SecretConfig,
    progress: impl FnMut(store::SealedTable, &rotate::RotationReport),
) -> anyhow::Result<rotate::RotationReport> {
    let keys = keyring(config)?;
    let db = Db::connect(&config.database_url, config.max_connections.min(4), MIGRATIONS).await?;
    let report = rotate::rotate(&store::SqlStore::new(db.clone()), &keys, progress).await;
    db.close().await;
    report
}
