//! The `projector` command line: the service (default) and the operator's tools for
//! generations of the read model (rebuild, switch, verify, list, drop).

use crate::settings::Settings;
use crate::tools::generations::{GenerationState, Generations};
use crate::tools::progress::ProgressMode;
use crate::tools::rebuild::{RebuildLock, RebuildOptions, drop_generation, rebuild};
use crate::tools::repair::repair_order;
use crate::tools::verify::verify;
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// `projector [SETTINGS] [COMMAND]`. Settings come from flags before the command or from
/// the environment.
#[derive(Debug, clap::Parser)]
#[command(
    name = "projector",
    about = "orderflow projector (Kafka → Postgres and Redis read models)"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Project the log into the live generation (the default).
    Run,
    /// Build a new generation of the read model from offset 0 beside the live one, then
    /// switch readers to it. Resumes an interrupted rebuild.
    Rebuild {
        #[command(flatten)]
        run: RunArgs,
        /// Discard an interrupted rebuild instead of resuming it.
        #[arg(long)]
        fresh: bool,
    },
    /// Repair one order: fold its events from its partition again and rewrite its rows in
    /// the live generation (no new generation).
    Repair {
        /// The order to repair.
        #[arg(long)]
        order: String,
    },
    /// Catch up an existing (retired) generation and make it live again: the rollback
    /// after a rebuild that was kept with `--keep-old`.
    Switch {
        generation: i64,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Fold the whole log in memory and compare it with the live read model; exits 1 when
    /// they differ.
    Verify,
    /// List the generations of the read model.
    Generations,
    /// Drop a generation that is not live (its tables and its Redis keys).
    Drop { generation: i64 },
}

/// How a rebuild or a switch runs.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Keep the previous generation (retired) for a rollback instead of dropping it.
    #[arg(long)]
    keep_old: bool,
    /// Seconds between the switch and dropping the previous generation.
    #[arg(long, default_value_t = 10)]
    drop_grace_secs: u64,
    /// How progress is shown.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressMode,
    /// Serve `/metrics` on this address while the rebuild runs, so Prometheus can follow
    /// its progress (`orderflow_projector_rebuild_progress_ratio`); none by default.
    #[arg(long, env = "ORDERFLOW_REBUILD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

/// Runs one of the tools; `Run` is the caller's (it needs a listener).
pub async fn execute(
    settings: &Settings,
    command: Command,
    stop: CancellationToken,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run => anyhow::bail!("`run` is served by the binary itself"),
        Command::Repair { order: order_id } => {
            let report = repair_order(settings, &order_id)
                .await
                .with_context(|| format!("repairing order {order_id}"))?;
            println!(
                "order {} (generation {}, partition {}): {} events; before {:?}, after {:?}",
                report.order_id,
                report.generation,
                report.partition,
                report.events,
                report.before,
                report.after.map(|(v, s)| (v, s.as_str()))
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild { run, fresh } => switch_to(settings, None, run, fresh, stop).await,
        Command::Switch { generation, run } => {
            switch_to(settings, Some(generation), run, false, stop).await
        }
        Command::Verify => {
            let report = verify(settings).await.context("verifying")?;
            print!("{report}");
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Generations => list(settings).await,
        Command::Drop { generation } => {
            let generations = control(settings).await?;
            let found = generations
                .get(generation)
                .await?
                .with_context(|| format!("there is no generation {generation}"))?;
            // A generation being built belongs to a rebuild that may be running.
            let _lock = match found.state {
                GenerationState::Building => {
                    Some(RebuildLock::acquire(&settings.database_url).await?)
                }
                _ => None,
            };
            drop_generation(settings, &generations, &found).await?;
            println!("dropped generation {generation}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn switch_to(
    settings: &Settings,
    generation: Option<i64>,
    run: RunArgs,
    fresh: bool,
    stop: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let options = RebuildOptions {
        keep_old: run.keep_old,
        fresh,
        generation,
        drop_grace: Duration::from_secs(run.drop_grace_secs),
        progress: run.progress,
    };
    let metrics = match run.metrics_listen {
        Some(address) => Some(serve_metrics(settings, address, stop.clone()).await?),
        None => None,
    };
    let rebuilt = rebuild(settings, &options, stop).await;
    if let Some(served) = metrics {
        served.abort();
    }
    let report = rebuilt.context("rebuilding")?;
    println!(
        "generation {}: {} records in {:.1}s ({:.0} records/s); {}",
        report.generation,
        report.records,
        report.elapsed.as_secs_f64(),
        report.rate(),
        match (report.switched, report.previous, report.dropped_previous) {
            (false, _, _) => "interrupted: run the same command again to resume".to_owned(),
            (true, Some(p), true) => format!("live; generation {p} dropped"),
            (true, Some(p), false) => format!("live; generation {p} kept (retired)"),
            (true, None, _) => "live".to_owned(),
        }
    );
    Ok(if report.switched {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(130)
    })
}

/// Serves `/metrics` on `address` until `stop` is cancelled or the task is aborted.
async fn serve_metrics(
    settings: &Settings,
    address: SocketAddr,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    orderflow_platform::metrics::install("projector", &settings.metrics);
    crate::health::metrics::describe();
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} for /metrics"))?;
    tracing::info!(%address, "serving the rebuild's /metrics");
    let routes = orderflow_platform::metrics::routes();
    let http = settings.http.clone();
    Ok(tokio::spawn(async move {
        orderflow_platform::serve(listener, routes, stop.cancelled_owned(), &http).await
    }))
}

async fn control(settings: &Settings) -> anyhow::Result<Generations> {
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?;
    generations
        .prepare()
        .await
        .context("reading the generations")?;
    Ok(generations)
}

async fn list(settings: &Settings) -> anyhow::Result<ExitCode> {
    let generations = control(settings).await?;
    println!(
        "{:>4}  {:<9} {:<16} {:<22} {:>14}",
        "id", "state", "schema", "redis prefix", "folded"
    );
    for g in generations.list().await? {
        let folded: i64 = generations
            .offsets(&g)
            .await
            .map(|o| o.values().sum())
            .unwrap_or(0);
        println!(
            "{:>4}  {:<9} {:<16} {:<22} {:>14}",
            g.id,
            g.state.as_str(),
            g.schema,
            g.redis_prefix,
            folded
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap checks its own rules (unique ids across flattened groups, …) only here or at
    /// run time: a clash would panic the binary before `main` does anything.
    #[test]
    fn the_command_line_is_valid() {
        Cli::command().debug_assert();
    }
}
