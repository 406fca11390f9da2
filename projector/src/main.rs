//! The projector binary: parse settings, bind the health endpoint, run until
//! Ctrl-C/SIGTERM.

use anyhow::Context;
use clap::Parser;
use orderflow_platform::{init_tracing, shutdown_signal};
use orderflow_projector::{Settings, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let settings = Settings::parse();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        topic = %settings.topic,
        group = %settings.group,
        "projector health endpoint listening"
    );
    run(settings, listener, shutdown_signal())
        .await
        .context("serving the health endpoint")
}
