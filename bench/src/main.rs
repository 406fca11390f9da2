//! The `bench` binary: parse the command line and run one benchmark command.

use clap::Parser;
use orderflow_bench::run::{RunArgs, run};
use orderflow_bench::seed::{SeedArgs, seed};
use orderflow_platform::{KafkaSettings, init_tracing, shutdown_signal};
use orderflow_schemas::RegistryArgs;
use std::net::SocketAddr;

/// `bench [SETTINGS] <COMMAND>`.
#[derive(Debug, Parser)]
#[command(name = "bench", about = "Benchmarks of the orderflow stack")]
struct Cli {
    #[command(flatten)]
    kafka: KafkaSettings,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Topic `seed` appends to.
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    topic: String,
    /// Postgres server the run creates its database on (any database of it).
    #[arg(
        long,
        env = "ORDERFLOW_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://orderflow_admin@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    #[arg(
        long,
        env = "ORDERFLOW_REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// The whole benchmark: every figure and its limit, reported under `--out`.
    Run(RunArgs),
    /// Append a backlog of new orders to the topic.
    Seed(SeedArgs),
    /// Serve the API's shapes with empty handlers (the HTTP limit; started by `run`).
    ServeEmpty {
        #[arg(long)]
        listen: SocketAddr,
    },
}

// The services allocate many small, short-lived buffers per record and per request;
// glibc's allocator took a third of the projector's CPU profile (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    let registry = cli.registry.settings();
    match cli.command {
        Command::Run(args) => {
            let written = run(args, cli.kafka, registry, &cli.database_url, cli.redis_url).await?;
            for path in written {
                println!("{}", path.display());
            }
        }
        Command::Seed(args) => {
            let done = seed(&cli.kafka, &registry, &cli.topic, &args).await?;
            println!(
                "seeded {} events ({} orders) into {}: encoded in {:.1}s, produced in {:.1}s",
                done.events,
                done.orders,
                cli.topic,
                done.encoding.as_secs_f64(),
                done.producing.as_secs_f64()
            );
        }
        Command::ServeEmpty { listen } => {
            orderflow_bench::limits::serve_empty(listen, shutdown_signal()).await?;
        }
    }
    Ok(())
}
