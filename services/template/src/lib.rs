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

use std::sync::Arc;

use flowmate_bus::SharedBus;
use flowmate_config::{ExposeSecret, Settings};
use flowmate_proto::{
    templates::v1::template_repository_server::TemplateRepositoryServer, MAX_MESSAGE_BYTES,
};
use flowmate_runtime::{Running, ServiceHost, KEY_REFRESH};
use flowmate_store::Migrations;
use tokio_util::sync::CancellationToken;

pub use crate::config::TemplateConfig;

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The template service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// Opens the database and serves the template API over gRPC until `shutdown`.
pub async fn start(
    config: TemplateConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut host = ServiceHost::new("template", bus, shutdown);
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
    let flows = Arc::new(flows::GrpcFlows::new(&config.flows_url, config.rpc_timeout)?);
    let core = Arc::new(core::TemplateCore::new(Arc::new(store::SqlStore::new(db)), flows));
    let server = TemplateRepositoryServer::new(grpc::TemplateGrpc::new(core, verifier))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    host.serve(
        config.grpc_addr,
        tonic::service::Routes::new(server).into_axum_router(),
    )
    .await
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service template`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(TemplateConfig::from_settings(&settings), bus, shutdown).await
}
