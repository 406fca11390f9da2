//! Runs the development schema registry. See the library docs: not for production.

use anyhow::Context;
use clap::Parser;
use orderflow_dev_registry::{Settings, run};
use orderflow_platform::{init_tracing, shutdown_signal};
use tokio::net::TcpListener;

// The services allocate many small, short-lived buffers per record and per request;
// glibc's allocator took a third of the projector's CPU profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let settings = Settings::parse();
    let pool = settings.connect().await.context("connecting to Postgres")?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    run(listener, pool, shutdown_signal()).await?;
    Ok(())
}
