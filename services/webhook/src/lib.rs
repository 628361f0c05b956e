//! The webhook service (API.md §5 "Incoming webhook"): it accepts webhooks for active flows — from an in-memory
//! copy of the active flows, so the hot path reads no database — authenticates them when the flow asks, applies
//! rate limits and Idempotency-Keys, and answers 200 only once the trigger is durably queued (broker confirm;
//! standalone: committed to the embedded queue; when the broker cannot confirm, committed to the spool in its own
//! database and published from there once it can). Sync webhooks wait for the execution's reply.

pub mod auth;
pub mod config;
pub mod deliver;
pub mod direct;
pub mod flows;
pub mod grpc;
pub mod limits;
pub mod parse;
pub mod queue;
pub mod quotas;
pub mod replies;
pub mod store;
pub mod throttle;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use flowmate_auth::secrets::SecretBox;
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_config::{ExposeSecret, Settings};
use flowmate_domain::{event::types, execution::REPLY_PREFIX};
use flowmate_proto::{webhooks::v1::webhooks_server::WebhooksServer, MAX_MESSAGE_BYTES};
use flowmate_runtime::{Running, ServiceHost, KEY_REFRESH};
use flowmate_store::Migrations;
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

/// Opens the database, loads the active flows, subscribes to flow and reply events, and serves the webhook
/// service over gRPC until `shutdown`.
pub async fn start(
    config: WebhookConfig,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut host = ServiceHost::new("webhook", bus.clone(), shutdown.clone());
    // Its database has no outbox: triggers are published with a broker confirm, and only those the broker cannot
    // confirm go through a spool of their own (`queue.rs`).
    let db = host
        .open_store(
            config.database_url.expose_secret(),
            config.max_connections,
            MIGRATIONS,
        )
        .await?;
    let secrets = match &config.secrets_key {
        Some(key) => Some(Arc::new(SecretBox::from_keys(key.expose_secret())?)),
        None => {
            tracing::warn!(
                "no secrets key configured: flows with an hmacSecret cannot be called with a signature"
            );
            None
        }
    };
    let verifier = host
        .verify_tokens(&config.identity_url, config.rpc_timeout, KEY_REFRESH)
        .await?;

    // Triggers are kept from the first one on, even before an execution worker consumes them.
    for (queue, patterns) in flowmate_domain::execution::work_queues() {
        bus.declare(&queue, &patterns).await?;
    }

    let replica = uuid::Uuid::new_v4().simple().to_string();
    let flows = Arc::new(flows::ActiveFlows::new(
        &config.flows_url,
        config.rpc_timeout,
        secrets,
    )?);
    // Subscribe before loading, so no change between the two is missed.
    let replies = follow(&mut host, &flows, &replica).await?;
    let warmed = Arc::new(AtomicBool::new(false));
    host.spawn(keep_warm(flows.clone(), warmed.clone(), shutdown.clone()));
    let idempotency = store::IdempotencyRecords::new(db.clone());
    host.spawn(prune_idempotency(idempotency.clone(), shutdown.clone()));
    let triggers = Arc::new(queue::TriggerQueue::new(bus.clone(), store::Spool::new(db)));
    host.spawn(triggers.clone().start_relay(shutdown.clone()));
    // The broker or the database is enough to accept webhooks: ready while either answers.
    host.ready_with_either("bus or database", "bus", "database");
    let webhooks = Arc::new(deliver::Webhooks {
        flows,
        bus,
        triggers,
        verifier,
        limits: limits::RateLimits::default(),
        replies,
        idempotency,
        defaults: deliver::Defaults {
            body_limit_bytes: config.body_limit_bytes,
            sync_timeout: config.sync_timeout,
            rate_limit: (config.rate_limit.0 > 0.0).then_some(config.rate_limit),
        },
        warmed: warmed.clone(),
        refused_log: throttle::Throttled::default(),
        quotas: quotas::Quotas::new(&config.executions_url, config.rpc_timeout)?,
        direct: direct::SyncRuns::new(&config.executions_url)?,
    });
    host.spawn(flush_logs(webhooks.clone(), shutdown));
    let warm_flag = warmed.clone();
    host.ready_when("active flows", move || {
        if warm_flag.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err("not loaded yet".into())
        }
    });
    let server = WebhooksServer::new(grpc::WebhookGrpc(webhooks))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    host.serve(
        config.grpc_addr,
        tonic::service::Routes::new(server).into_axum_router(),
    )
    .await
}

/// Subscribes this replica's own queues: the flow events that keep `flows` current, and the replies to its sync
/// webhooks (returned: where requests wait for them).
async fn follow(
    host: &mut ServiceHost,
    flows: &Arc<flows::ActiveFlows>,
    replica: &str,
) -> anyhow::Result<Arc<replies::Replies>> {
    host.subscribe(
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
    )
    .await?;
    let routing_key = format!("{REPLY_PREFIX}{replica}");
    let replies = Arc::new(replies::Replies::new(routing_key.clone()));
    host.subscribe(
        SubscribeOptions {
            exclusive: true,
            prefetch: 256,
            ..SubscribeOptions::new(format!("webhook.replies.{replica}"), &[routing_key.as_str()])
        },
        Arc::new(replies::ReplyHandler(replies.clone())),
    )
    .await?;
    Ok(replies)
}

/// Starts the service as configured by `settings` (its own binary, `flowmate service webhook`).
pub async fn launch(
    settings: Settings,
    bus: SharedBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start(WebhookConfig::from_settings(&settings), bus, shutdown).await
}

/// Loads the active flows until it succeeds (then `warmed` is set), and reloads them every [`RELOAD`]: events
/// missed during a broker reconnect are corrected.
fn keep_warm(
    flows: Arc<flows::ActiveFlows>,
    warmed: Arc<AtomicBool>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(100);
        loop {
            match flows.warm().await {
                Ok(n) => {
                    if !warmed.swap(true, Ordering::AcqRel) {
                        tracing::info!(active = n, "active flows loaded");
                    }
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
}

/// Forgets Idempotency-Keys older than a day, every hour.
fn prune_idempotency(records: store::IdempotencyRecords, shutdown: CancellationToken) -> JoinHandle<()> {
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
}

/// Writes the throttled log lines still owed, every [`throttle::EVERY`].
fn flush_logs(webhooks: Arc<deliver::Webhooks>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(throttle::EVERY) => webhooks.flush_logs(),
            }
        }
    })
}
