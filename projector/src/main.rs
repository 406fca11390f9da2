//! The projector binary: parse the command line; serve the projection until
//! Ctrl-C/SIGTERM, or run one of the generation tools.

use anyhow::Context;
use clap::Parser;
use orderflow_platform::{init_tracing, shutdown_signal, shutdown_tracing};
use orderflow_projector::run;
use orderflow_projector::tools::cli::{Cli, Command, execute};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

// The services allocate many small, short-lived buffers per record and per request;
// glibc's allocator took a third of the projector's CPU profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    init_tracing();
    let Cli { settings, command } = Cli::parse();
    if let Some(command) = command.filter(|c| !matches!(c, Command::Run)) {
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown_signal().await;
                stop.cancel();
            }
        });
        return execute(&settings, command, stop).await;
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, topic = %settings.log.topic, group = %settings.group, "projector health endpoint listening");
    let served = run(settings, listener, shutdown_signal()).await;
    // The last batches' spans go out before the process ends.
    shutdown_tracing();
    served.context("running the projector")?;
    Ok(ExitCode::SUCCESS)
}
