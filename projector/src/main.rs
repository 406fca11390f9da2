//! The projector binary: parse the command line; serve the projection until
//! Ctrl-C/SIGTERM, or run one of the generation tools.

use anyhow::Context;
use clap::Parser;
use orderflow_platform::{init_tracing, shutdown_signal};
use orderflow_projector::run;
use orderflow_projector::tools::cli::{Cli, Command, execute};
use std::process::ExitCode;

// The services allocate many small, short-lived buffers per record and per request;
// glibc's allocator took a third of the projector's CPU profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    init_tracing();
    let Cli { settings, command } = Cli::parse();
    if let Some(command) = command.filter(|c| !matches!(c, Command::Run)) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        return execute(&settings, command, stopped).await;
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, topic = %settings.log.topic, group = %settings.group, "projector health endpoint listening");
    run(settings, listener, shutdown_signal())
        .await
        .context("running the projector")?;
    Ok(ExitCode::SUCCESS)
}
