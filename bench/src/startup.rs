//! Command-service start-up: time to ready and resident memory with a log of placed
//! orders, against the same service started on an empty log (the baseline).

use crate::report::Figure;
use crate::run::Ctx;
use crate::seed::{self, SeedArgs};
use crate::services::{Service, free_addr};
use std::time::Duration;

/// Longest a start-up may take before the run gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let orders = ctx.args.startup_orders;
    let topic = ctx.topic("placed");
    eprintln!("startup: seeding {orders} placed orders into {topic}");
    let args = SeedArgs {
        events: orders,
        partitions: ctx.args.partitions,
        placed_only: true,
    };
    seed::seed(&ctx.kafka, &ctx.registry, &topic, &args).await?;

    let (_, baseline) = start(ctx, "command-service-empty", &ctx.topic("empty")).await?;
    let (ready, rss) = start(ctx, "command-service-startup", &topic).await?;
    let per_order = rss.saturating_sub(baseline) as f64 / orders as f64;
    let scale = 1e6 / orders as f64;
    ctx.report.add(
        Figure::new(
            "Command service ready with the placed orders in the log",
            ready.as_secs_f64(),
            "s",
        )
        .target("≤ 30 s with 1M orders", ready.as_secs_f64() * scale <= 30.0)
        .note(format!(
            "{orders} orders ({:.0} events/s folded at start-up)",
            orders as f64 / ready.as_secs_f64()
        )),
    );
    ctx.report.add(
        Figure::new("Command service memory per order", per_order, "bytes")
            .target("≤ 1 KiB", per_order <= 1024.0)
            .note(format!(
                "RSS {} MiB with {orders} orders, {} MiB on an empty log",
                rss >> 20,
                baseline >> 20
            )),
    );
    Ok(())
}

/// Starts the command service on `topic`, waits until it is ready, reads its resident
/// memory once the start-up allocations have settled, and stops it.
async fn start(ctx: &Ctx, name: &str, topic: &str) -> anyhow::Result<(Duration, u64)> {
    let addr = free_addr()?;
    let env = [
        ("ORDERFLOW_TOPIC", topic.to_owned()),
        ("ORDERFLOW_COMMAND_LISTEN", addr.to_string()),
    ];
    let mut service: Service =
        ctx.launcher
            .spawn(name, "command-service", &[], &env, Some(addr))?;
    let ready = service.ready(READY_TIMEOUT).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = service.rss().unwrap_or(0);
    service.stop().await?;
    Ok((ready, rss))
}
