//! `flowmate`: every FlowMate service in one process (`cargo run --release`), or one of them
//! (`flowmate service <name>`, exactly what that service's own `flowmate-<name>` binary runs).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use flowmate_config::Settings;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: flowmate                  every service in one process (standalone)
       flowmate service <name>   one service: identity, flow-repository, template, secret, execution, webhook,
                                 gateway
       flowmate secrets rotate   re-seal every stored secret with the first key of FLOWMATE_SECRETS_KEYS

Configuration: flowmate.toml (or FLOWMATE_CONFIG) and FLOWMATE_* environment variables; see the README.";

fn main() -> anyhow::Result<()> {
    flowmate_telemetry::memory::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let service = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => None,
        ["secrets", "rotate"] => return rotate().await,
        ["service", name] if flowmate::SERVICES.contains(name) => Some(name.to_string()),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            return Ok(());
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let settings = Settings::load()?;
    let name = service
        .as_ref()
        .map(|s| format!("flowmate-{s}"))
        .unwrap_or_else(|| "flowmate".into());
    let _telemetry = flowmate_telemetry::init(&name, settings.log_format, &settings.log_filter)?;
    if let Some(service) = service {
        return flowmate::run_service(&service, settings).await;
    }
    let shutdown = CancellationToken::new();
    let running = flowmate::start(&settings, shutdown.clone()).await?;
    if let Some(first) = &running.first_start {
        flowmate_identity::bootstrap::print_first_start(first);
    }
    println!(
        "FlowMate is running: http://{} (API docs: http://{}/api/docs)",
        running.http_addr, running.http_addr
    );
    flowmate_runtime::ops::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.stopped().await;
    Ok(())
}

async fn rotate() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let _telemetry = flowmate_telemetry::init("flowmate", settings.log_format, &settings.log_filter)?;
    let report = flowmate::rotate_secrets(&settings).await?;
    println!(
        "done: {} re-sealed, {} changed meanwhile, {} unreadable, {} still sealed with another key",
        report.resealed, report.skipped, report.unreadable, report.remaining
    );
    if report.remaining > 0 || report.unreadable > 0 {
        anyhow::bail!("some values are not sealed with the first key yet: run it again (unreadable values need their key back in the ring)");
    }
    Ok(())
}
