//! The template service (API.md §4): flow templates with owners, tenant scope and kept versions, and generating
//! flows from them through the flow repository on the caller's behalf. Announces `template.created`,
//! `template.modified` and `template.deleted` through the outbox.

pub mod config;
pub mod core;
pub mod error;
pub mod flows;
pub mod grpc;
pub mod model;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use flowmate_auth::{
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::SharedBus;
use flowmate_proto::{
    templates::v1::template_repository_server::TemplateRepositoryServer, MAX_MESSAGE_BYTES,
};
use flowmate_store::{outbox, Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::config::TemplateConfig;

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The template service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A started template service.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight work is done.
    pub task: JoinHandle<()>,
}

/// Opens the database, starts the outbox relay and the token sync, and serves gRPC plus `/healthz`, `/readyz`
/// and `/metrics` until `shutdown`.
pub async fn start(
    config: TemplateConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let flows = Arc::new(flows::GrpcFlows::new(&config.flows_url, config.rpc_timeout)?);
    let core = Arc::new(core::TemplateCore::new(
        Arc::new(store::SqlStore::new(db.clone())),
        flows,
    ));

    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(keys, verifier.clone(), Duration::from_secs(30), shutdown.clone());
    let revocations =
        flowmate_auth::sync::subscribe_revocations(&bus, "template", verifier.clone(), shutdown.clone())
            .await?;
    let relay = outbox::start_relay(db.clone(), bus.clone(), shutdown.clone());

    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let server = TemplateRepositoryServer::new(grpc::TemplateGrpc::new(core, verifier.clone()))
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
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "template", grpc, ready, shutdown).await {
            tracing::error!(error = %e, "template service failed");
        }
        for task in [sync, revocations, relay] {
            let _ = task.await;
        }
        db.close().await;
    });
    tracing::info!(%addr, "template service listening");
    Ok(Running { addr, task })
}
