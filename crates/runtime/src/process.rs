//! A service as its own process: settings → telemetry → bus → start → wait for a signal → orderly shutdown. Every
//! service binary's `main` is one call to [`main`]; `flowmate service <name>` runs the same through [`run`].

use std::future::Future;

use flowmate_bus::SharedBus;
use flowmate_config::Settings;
use tokio_util::sync::CancellationToken;

use crate::{ops, Running};

/// How a service starts from the settings (each service's `launch`).
pub trait Launch: FnOnce(Settings, SharedBus, CancellationToken) -> Self::Started {
    /// The start's future.
    type Started: Future<Output = anyhow::Result<Running>>;
}

impl<F, Fut> Launch for F
where
    F: FnOnce(Settings, SharedBus, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<Running>>,
{
    type Started = Fut;
}

/// The `main` of the binary `binary` (`flowmate-execution`, …): reads the settings (defaults, `flowmate.toml`,
/// `FLOWMATE_*`), installs telemetry, and runs the service until SIGTERM or ctrl-c.
pub fn main(binary: &'static str, launch: impl Launch) -> anyhow::Result<()> {
    flowmate_telemetry::memory::runtime()?.block_on(async move {
        let settings = Settings::load()?;
        let _telemetry = flowmate_telemetry::init(binary, settings.log_format, &settings.log_filter)?;
        run(settings, launch).await
    })
}

/// Opens the bus the settings name (RabbitMQ, or the embedded queue under the data directory), starts the service
/// and runs it until SIGTERM or ctrl-c, then shuts it down and waits until it has stopped. A service that stops by
/// itself (its server failed) is an error.
pub async fn run(settings: Settings, launch: impl Launch) -> anyhow::Result<()> {
    let bus = flowmate_bus::open(settings.amqp_url(), &settings.amqp_exchange, &settings.data_dir).await?;
    let shutdown = CancellationToken::new();
    let mut task = launch(settings, bus, shutdown.clone()).await?.task;
    tokio::select! {
        _ = ops::shutdown_signal() => {
            tracing::info!("shutting down");
            shutdown.cancel();
            (&mut task).await?;
            Ok(())
        }
        ended = &mut task => {
            ended?;
            anyhow::bail!("the service stopped unexpectedly (see the log above)")
        }
    }
}
