//! The command service binary: parse settings, bind, run until Ctrl-C/SIGTERM.

use anyhow::Context;
use clap::Parser;
use orderflow_command_service::{Settings, run};
use orderflow_platform::{init_tracing, shutdown_signal, shutdown_tracing};

// The services allocate many small, short-lived buffers per record and per request;
// glibc's allocator took a third of the projector's CPU profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let settings = Settings::parse();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, topic = %settings.log.topic, "command service listening");
    let served = run(settings, listener, shutdown_signal()).await;
    // The last spans (the requests drained at shutdown) go out before the process ends.
    shutdown_tracing();
    served.context("running the command service")
}
