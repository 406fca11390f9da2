//! The `bench` binary: parse the command line and run one benchmark step.

use clap::Parser;
use orderflow_bench::seed::{SeedArgs, seed};
use orderflow_platform::{KafkaSettings, init_tracing};
use orderflow_schemas::RegistryArgs;

/// `bench [SETTINGS] <COMMAND>`.
#[derive(Debug, Parser)]
#[command(name = "bench", about = "Benchmarks of the running orderflow stack")]
struct Cli {
    #[command(flatten)]
    kafka: KafkaSettings,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Topic holding the order events.
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    topic: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Append a backlog of complete order lifecycles to the topic.
    Seed(SeedArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Seed(args) => {
            let done = seed(&cli.kafka, &cli.registry.settings(), &cli.topic, &args).await?;
            let rate = done.events as f64 / done.elapsed.as_secs_f64();
            println!(
                "seeded {} events ({} orders) into {} in {:.1}s: {rate:.0} events/s",
                done.events,
                done.orders,
                cli.topic,
                done.elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}
