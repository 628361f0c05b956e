//! The webhook service (API.md §5 "Incoming webhook"): it accepts webhooks for active flows — from an in-memory
//! copy of the active flows, so the hot path reads no database — authenticates them when the flow asks, applies
//! rate limits and Idempotency-Keys, and answers 200 only once the trigger is durably queued (broker confirm;
//! standalone: committed to the embedded queue). Sync webhooks wait for the execution's reply.

pub mod auth;
pub mod config;
pub mod deliver;
pub mod flows;
pub mod grpc;
pub mod keys;
pub mod limits;
pub mod parse;
pub mod replies;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use flowmate_auth::{
    secrets::SecretBox,
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_domain::{
    event::types,
    execution::{REPLY_PREFIX, WORK_QUEUE},
};
use flowmate_proto::{webhooks::v1::webhooks_server::WebhooksServer, MAX_MESSAGE_BYTES};
use flowmate_store::{Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::config::WebhookConfig;

/// How often the active flows are reloaded from the flow repository.
const RELOAD: Duration = Duration::from_secs(60);

/// The `source` of the events this service publishes.
pub const SOURCE: &str = "flowmate/webhook";

static POSTGRES: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/postgres");
static SQLITE: flowmate_store::Migrator = flowmate_store::sqlx::migrate!("./migrations/sqlite");

/// The webhook service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A started webhook service.
pub struct Running {
    /// Where gRPC and the operational routes listen.
    pub addr: SocketAddr,
    /// Ends after `shutdown` once in-flight requests are answered.
    pub task: JoinHandle<()>,
}

/// Opens the database, loads the active flows, subscribes to flow and reply events, and serves gRPC plus
/// `/healthz`, `/readyz` and `/metrics` until `shutdown`.
pub async fn start(
    config: WebhookConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url, config.max_connections, MIGRATIONS).await?;
    let secrets = match config.secrets_key.as_deref() {
        Some(key) => Some(Arc::new(SecretBox::from_keys(key)?)),
        None => {
            tracing::warn!(
                "no secrets key configured: flows with an hmacSecret cannot be called with a signature"
            );
            None
        }
    };
    let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(&config.identity_url, config.rpc_timeout)?);
    let verifier = Arc::new(Verifier::new());
    let sync = flowmate_auth::sync::start(keys, verifier.clone(), Duration::from_secs(30), shutdown.clone());
    let revocations =
        flowmate_auth::sync::subscribe_revocations(&bus, "webhook", verifier.clone(), shutdown.clone())
            .await?;

    // Triggers are kept from the first one on, even before an execution worker consumes them.
    bus.declare(
        WORK_QUEUE,
        &[types::FLOW_EXECUTE.to_owned(), types::EXECUTION_RESUME.to_owned()],
    )
    .await?;

    let replica = uuid::Uuid::new_v4().simple().to_string();
    let flows = Arc::new(flows::ActiveFlows::new(
        &config.flows_url,
        config.rpc_timeout,
        secrets,
    )?);
    // Subscribe before loading, so no change between the two is missed.
    let flow_events = bus
        .subscribe(
            SubscribeOptions {
                exclusive: true,
                prefetch: 1,
                ..SubscribeOptions::new(
                    format!("webhook.flows.{replica}"),
                    &[
                        types::FLOW_STARTING,
                        types::FLOW_STARTED,
                        types::FLOW_STOPPING,
                        types::FLOW_FAILED,
                    ],
                )
            },
            Arc::new(flows::FlowEvents(flows.clone())),
            shutdown.clone(),
        )
        .await?;
    let routing_key = format!("{REPLY_PREFIX}{replica}");
    let replies = Arc::new(replies::Replies::new(routing_key.clone()));
    let reply_events = bus
        .subscribe(
            SubscribeOptions {
                exclusive: true,
                prefetch: 256,
                ..SubscribeOptions::new(format!("webhook.replies.{replica}"), &[routing_key.as_str()])
            },
            Arc::new(replies::ReplyHandler(replies.clone())),
            shutdown.clone(),
        )
        .await?;
    let warmed = Arc::new(AtomicBool::new(false));
    let warm = {
        let (flows, warmed, shutdown) = (flows.clone(), warmed.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                match flows.warm().await {
                    Ok(n) => {
                        if !warmed.swap(true, Ordering::AcqRel) {
                            tracing::info!(active = n, "active flows loaded");
                        }
                        // Reload now and then: events missed during a broker reconnect are corrected.
                        wait = RELOAD;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "flow repository not reachable; retrying");
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        })
    };
    let key_records = keys::Keys::new(db.clone());
    let pruning = {
        let (records, shutdown) = (key_records.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                match records.prune().await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "forgot old Idempotency-Keys"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning Idempotency-Keys failed"),
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        })
    };
    let webhooks = Arc::new(deliver::Webhooks {
        flows,
        bus: bus.clone(),
        verifier: verifier.clone(),
        limits: limits::RateLimits::default(),
        replies,
        keys: key_records,
        defaults: deliver::Defaults {
            body_limit_bytes: config.body_limit_bytes,
            sync_timeout: config.sync_timeout,
            rate_limit: (config.rate_limit.0 > 0.0).then_some(config.rate_limit),
        },
        warmed: warmed.clone(),
    });

    let listener = tokio::net::TcpListener::bind(&config.grpc_addr).await?;
    let addr = listener.local_addr()?;
    let server = WebhooksServer::new(grpc::WebhookGrpc(webhooks))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let grpc = tonic::service::Routes::new(server).into_axum_router();
    let keys_loaded = verifier.clone();
    let ready = flowmate_store::readiness(db.clone(), bus, move || {
        if !keys_loaded.has_keys() {
            Err("identity keys not loaded yet".into())
        } else if !warmed.load(Ordering::Acquire) {
            Err("active flows not loaded yet".into())
        } else {
            Ok(())
        }
    });
    let task = tokio::spawn(async move {
        if let Err(e) = flowmate_telemetry::ops::serve(listener, "webhook", grpc, ready, shutdown).await {
            tracing::error!(error = %e, "webhook service failed");
        }
        for task in [sync, revocations, flow_events, reply_events, warm, pruning] {
            let _ = task.await;
        }
        db.close().await;
    });
    tracing::info!(%addr, "webhook service listening");
    Ok(Running { addr, task })
}
