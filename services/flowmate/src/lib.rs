//! FlowMate standalone: every service in one process. SQLite files under the data directory, the embedded durable
//! queue instead of RabbitMQ, and the services still talking gRPC — the same code as distributed mode with
//! different adapters. Each service listens on a loopback port, but callers in this process reach its router
//! directly (`flowmate_proto::transport`), without HTTP/2 and TCP in between.

use std::net::SocketAddr;

use flowmate_config::{SecretString, Settings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use flowmate_identity::FirstStart;

/// A running standalone FlowMate.
pub struct Standalone {
    /// Where the REST API listens.
    pub http_addr: SocketAddr,
    /// The admin login created on this start, if it was the first.
    pub first_start: Option<FirstStart>,
    /// The bus every service shares (the embedded queue unless RabbitMQ is configured).
    pub bus: flowmate_bus::SharedBus,
    tasks: Vec<JoinHandle<()>>,
}

impl Standalone {
    /// Waits until every service has stopped (after the shutdown token was cancelled).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts every service in this process until `shutdown` is cancelled.
///
/// Services bind gRPC to `127.0.0.1:0`; only the gateway listens on `settings.http_addr`. Each service gets its own
/// SQLite file under `settings.data_dir` (`identity.db`, `flows.db`, `templates.db`, `secrets.db`, `executions.db`,
/// `webhooks.db`; the secrets key in `secrets.key` unless `secrets_keys`/`secrets_key` is configured) and they share
/// the embedded queue (`bus.db`), unless `amqp_url` points at RabbitMQ.
pub async fn start(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<Standalone> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let bus = flowmate_bus::open(settings.amqp_url(), &settings.amqp_exchange, &settings.data_dir).await?;
    // Secrets and webhook HMAC secrets are sealed with this keyring; standalone keeps a key beside the data unless
    // one is configured.
    let secrets_key = SecretString::from(flowmate_auth::secrets::keyring_text(
        settings.secrets_keyring(),
        None,
        &settings.data_dir.join("secrets.key"),
    )?);
    // The execution service presents it on the secret service's internal calls; a fresh one per start.
    let service_token = SecretString::from(match settings.service_token() {
        Some(t) => t.to_owned(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    });

    let mut identity_config = flowmate_identity::IdentityConfig::from_settings(settings);
    identity_config.database_url = sqlite(settings, "identity.db");
    identity_config.grpc_addr = LOOPBACK;
    let (identity, first_start) =
        flowmate_identity::start(identity_config, bus.clone(), shutdown.clone()).await?;
    let identity_url = format!("http://{}", identity.addr);

    let mut flows_config = flowmate_flow_repository::FlowConfig::from_settings(settings);
    flows_config.database_url = sqlite(settings, "flows.db");
    flows_config.grpc_addr = LOOPBACK;
    flows_config.identity_url = identity_url.clone();
    flows_config.secrets_key = Some(secrets_key.clone());
    let flows = flowmate_flow_repository::start(flows_config, bus.clone(), shutdown.clone()).await?;

    let flows_url = format!("http://{}", flows.addr);

    let mut templates_config = flowmate_template::TemplateConfig::from_settings(settings);
    templates_config.database_url = sqlite(settings, "templates.db");
    templates_config.grpc_addr = LOOPBACK;
    templates_config.identity_url = identity_url.clone();
    templates_config.flows_url = flows_url.clone();
    let templates = flowmate_template::start(templates_config, bus.clone(), shutdown.clone()).await?;

    let mut secrets_config = flowmate_secret::SecretConfig::from_settings(settings);
    secrets_config.database_url = sqlite(settings, "secrets.db");
    secrets_config.grpc_addr = LOOPBACK;
    secrets_config.identity_url = identity_url.clone();
    secrets_config.secrets_keys = Some(secrets_key.clone());
    secrets_config.service_token = Some(service_token.clone());
    let secrets = flowmate_secret::start(secrets_config, bus.clone(), shutdown.clone()).await?;
    let secrets_url = format!("http://{}", secrets.addr);

    let mut executions_config = flowmate_execution::ExecutionConfig::from_settings(settings);
    executions_config.database_url = sqlite(settings, "executions.db");
    executions_config.grpc_addr = LOOPBACK;
    executions_config.identity_url = identity_url.clone();
    executions_config.flows_url = flows_url.clone();
    executions_config.secrets_url = secrets_url.clone();
    executions_config.service_token = Some(service_token);
    let executions = flowmate_execution::start(executions_config, bus.clone(), shutdown.clone()).await?;

    let mut webhooks_config = flowmate_webhook::WebhookConfig::from_settings(settings);
    webhooks_config.database_url = sqlite(settings, "webhooks.db");
    webhooks_config.grpc_addr = LOOPBACK;
    webhooks_config.identity_url = identity_url.clone();
    webhooks_config.flows_url = flows_url.clone();
    webhooks_config.executions_url = format!("http://{}", executions.addr);
    webhooks_config.secrets_key = Some(secrets_key.clone());
    let webhooks = flowmate_webhook::start(webhooks_config, bus.clone(), shutdown.clone()).await?;

    let mut gateway_config = flowmate_gateway::GatewayConfig::from_settings(settings);
    gateway_config.identity_url = identity_url;
    gateway_config.flows_url = flows_url;
    gateway_config.templates_url = format!("http://{}", templates.addr);
    gateway_config.executions_url = format!("http://{}", executions.addr);
    gateway_config.webhooks_url = format!("http://{}", webhooks.addr);
    gateway_config.secrets_url = secrets_url;
    let gateway = flowmate_gateway::start(gateway_config, bus.clone(), shutdown).await?;

    Ok(Standalone {
        http_addr: gateway.addr,
        first_start,
        bus,
        tasks: vec![
            gateway.task,
            webhooks.task,
            executions.task,
            secrets.task,
            templates.task,
            flows.task,
            identity.task,
        ],
    })
}

/// Services other than the gateway listen on a free loopback port.
const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// A service's SQLite file under the data directory, whatever `database_url` says.
fn sqlite(settings: &Settings, file: &str) -> SecretString {
    SecretString::from(flowmate_store::Db::sqlite_url(&settings.data_dir.join(file)))
}

/// The services `flowmate service <name>` runs, in start order.
pub const SERVICES: &[&str] = &[
    "identity",
    "flow-repository",
    "template",
    "secret",
    "execution",
    "webhook",
    "gateway",
];

/// Runs one service the way its own binary (`flowmate-<name>`) does: configured from `settings` (in practice the
/// `FLOWMATE_*` environment), on RabbitMQ when `amqp_url` is set, until SIGTERM or ctrl-c.
pub async fn run_service(name: &str, settings: Settings) -> anyhow::Result<()> {
    use flowmate_runtime::process::run;
    match name {
        "identity" => run(settings, flowmate_identity::launch).await,
        "flow-repository" => run(settings, flowmate_flow_repository::launch).await,
        "template" => run(settings, flowmate_template::launch).await,
        "secret" => run(settings, flowmate_secret::launch).await,
        "execution" => run(settings, flowmate_execution::launch).await,
        "webhook" => run(settings, flowmate_webhook::launch).await,
        "gateway" => run(settings, flowmate_gateway::launch).await,
        other => anyhow::bail!("unknown service {other:?}; one of: {}", SERVICES.join(", ")),
    }
}

/// `flowmate secrets rotate`: re-seals every value of the secret service's database (`database_url`, else
/// `secrets.db` under the data directory) with the first key of the keyring (`secrets_keys`, else `secrets_key`,
/// else the standalone key file). Prints progress; safe to interrupt and run again.
pub async fn rotate_secrets(settings: &Settings) -> anyhow::Result<flowmate_secret::rotate::RotationReport> {
    let mut config = flowmate_secret::SecretConfig::from_settings(settings);
    config.secrets_keys = Some(SecretString::from(flowmate_auth::secrets::keyring_text(
        settings.secrets_keyring(),
        None,
        &settings.data_dir.join("secrets.key"),
    )?));
    let keys = flowmate_secret::keyring(&config)?;
    println!(
        "re-sealing with key {:?} (keys in the ring: {})",
        keys.primary_kid(),
        keys.kids().join(", ")
    );
    flowmate_secret::rotate_keys(&config, |table, report| {
        println!("{table:?}: {} re-sealed so far", report.resealed);
    })
    .await
}
