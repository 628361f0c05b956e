//! `flowmate-secret`: the secret service as its own process (distributed mode).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use flowmate_config::Settings;
use tokio_util::sync::CancellationToken;

fn main() -> anyhow::Result<()> {
    flowmate_telemetry::memory::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = flowmate_telemetry::init(
        "flowmate-secret",
        settings.log_format.parse()?,
        &settings.log_filter,
    )?;
    let bus = flowmate_bus::open(settings.amqp_url(), &settings.amqp_exchange, &settings.data_dir).await?;
    let shutdown = CancellationToken::new();
    let config = flowmate_secret::SecretConfig::from_settings(&settings);
    let running = flowmate_secret::start(config, bus, shutdown.clone()).await?;
    flowmate_telemetry::ops::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.task.await?;
    Ok(())
}
