//! `flowmate`: every FlowMate service in one process (`cargo run --release`).

use flowmate_config::Settings;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry =
        flowmate_telemetry::init("flowmate", settings.log_format.parse()?, &settings.log_filter)?;
    let shutdown = CancellationToken::new();
    let running = flowmate::start(&settings, shutdown.clone()).await?;
    if let Some(first) = &running.first_start {
        flowmate_identity::bootstrap::print_first_start(first);
    }
    println!(
        "FlowMate is running: http://{} (API docs: http://{}/api/docs)",
        running.http_addr, running.http_addr
    );
    flowmate_telemetry::ops::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.stopped().await;
    Ok(())
}
