//! The fulfilment binary: parse the settings, serve until Ctrl-C/SIGTERM.

use anyhow::Context;
use clap::Parser;
use orderflow_fulfilment::{Settings, run};
use orderflow_platform::{init_tracing, shutdown_signal, shutdown_tracing};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let settings = Settings::parse();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, "fulfilment listening");
    let ran = run(settings, listener, shutdown_signal()).await;
    shutdown_tracing();
    ran.context("running the fulfilment service")
}
