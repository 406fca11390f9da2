//! `orderflow-demo`: places orders and moves them along on the local stack until Ctrl-C
//! (or `--orders N`). Its token is `ORDERFLOW_DEMO_TOKEN` (an operator's), or one the
//! development issuer under `.stack/dev-issuer` signs.

use anyhow::Context;
use clap::Parser;
use orderflow_auth::Role;
use orderflow_auth::dev::{self, DevIssuer};
use orderflow_demo::{CommandClient, DemoSettings, run};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "orderflow-demo",
    about = "Moves orders along on the local stack, so the dashboard comes alive"
)]
struct Args {
    #[command(flatten)]
    demo: DemoSettings,
    /// An operator's bearer token; without it the development issuer signs one.
    #[arg(long, env = "ORDERFLOW_DEMO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where the development issuer keeps its key.
    #[arg(long, default_value = dev::DEFAULT_DIR)]
    dev_issuer: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    orderflow_platform::init_tracing();
    let args = Args::parse();
    let token = match args.token {
        Some(token) => token,
        None => DevIssuer::load_or_create(&args.dev_issuer)
            .context("the development issuer (pass an operator's token with --token)")?
            .token(
                "demo-driver",
                &[Role::Operator],
                Duration::from_secs(24 * 3600),
            ),
    };
    let stop = CancellationToken::new();
    let signalled = stop.clone();
    tokio::spawn(async move {
        orderflow_platform::shutdown_signal().await;
        signalled.cancel();
    });
    let client = CommandClient::new(&args.demo.commands, token);
    let summary = run(&args.demo, client, stop).await;
    println!(
        "placed {}, delivered {}, cancelled {}, rejected {}, failed {}",
        summary.placed, summary.delivered, summary.cancelled, summary.rejected, summary.failed
    );
    orderflow_platform::shutdown_tracing();
    Ok(())
}
