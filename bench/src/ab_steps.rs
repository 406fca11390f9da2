//! A/B steps: place-order on command services that differ in one setting only (metrics
//! off, authentication off), measured back to back under the same load and alternated
//! with a reference that has everything on, so what a feature costs is read from one run
//! at one machine moment rather than across runs (issue 16: metrics must cost nothing
//! measurable; issue 15: what verifying tokens costs).
//!
//! The reference is a service of its own too, not the one the other steps measure: every
//! instance here writes a topic nobody reads, so none of them shares the two cores with
//! the projector folding its events, and only the setting differs.

use crate::load::closed_loop;
use crate::report::Figure;
use crate::run::Ctx;
use crate::services::{Service, free_addr};
use crate::stats::Summary;
use crate::workloads::PlaceOrder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The instances: a name, and the one setting that differs (none for the reference).
const INSTANCES: [(&str, Option<(&str, &str)>); 4] = [
    ("everything on", None),
    ("metrics off", Some(("ORDERFLOW_METRICS", "disabled"))),
    ("authentication off", Some(("ORDERFLOW_AUTH", "disabled"))),
    ("traces off", Some(("RUST_LOG", "warn"))),
];
/// Each instance is measured this many times, in turn.
const ROUNDS: usize = 2;

/// The topics the A/B services write (deleted with the run's others).
pub fn topics(ctx: &Ctx) -> Vec<String> {
    (0..INSTANCES.len())
        .map(|i| ctx.topic(&format!("ab{i}")))
        .collect()
}

/// Starts every instance, measures them in turn `ROUNDS` times, and reports each variant
/// next to the reference.
pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    eprintln!("http: place-order A/B (metrics, authentication, traces)");
    let mut services = Vec::new();
    let mut targets = Vec::new();
    for (i, (_, setting)) in INSTANCES.iter().enumerate() {
        let (service, addr) = start(ctx, i, *setting).await?;
        services.push(service);
        targets.push(addr);
    }
    let result = measure(ctx, &targets).await;
    for service in services {
        service.stop().await?;
    }
    result
}

async fn start(
    ctx: &Ctx,
    i: usize,
    setting: Option<(&str, &str)>,
) -> anyhow::Result<(Service, SocketAddr)> {
    let addr = free_addr()?;
    let mut env = vec![
        ("ORDERFLOW_TOPIC", topics(ctx)[i].clone()),
        ("ORDERFLOW_COMMAND_LISTEN", addr.to_string()),
    ];
    if let Some((key, value)) = setting {
        env.push((key, value.to_owned()));
    }
    let name = format!("command-service-ab{i}");
    let mut service = ctx
        .launcher
        .spawn(&name, "command-service", &[], &env, Some(addr))?;
    service.ready(Duration::from_secs(600)).await?;
    Ok((service, addr))
}

async fn measure(ctx: &mut Ctx, targets: &[SocketAddr]) -> anyhow::Result<()> {
    let mut runs: Vec<Vec<Summary>> = targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for (i, target) in targets.iter().enumerate() {
            runs[i].push(place_orders(ctx, *target).await?);
        }
    }
    let rates = |s: &[Summary]| {
        let each: Vec<String> = s.iter().map(|s| format!("{:.0}", s.per_second)).collect();
        each.join(", ")
    };
    let mean = |s: &[Summary]| s.iter().map(|s| s.per_second).sum::<f64>() / s.len() as f64;
    let reference = mean(&runs[0]);
    let reference_rates = rates(&runs[0]);
    for (i, mut variant) in runs.into_iter().enumerate() {
        let name = INSTANCES[i].0;
        let note = format!(
            "instances measured in turn, {ROUNDS} rounds, each on a topic of its own with no \
             projector: everything on {reference_rates} commands/s; {name} {} commands/s",
            rates(&variant)
        );
        // The figure is the instance's last round; the note has every round.
        let last = variant.pop().expect("ROUNDS > 0");
        let figure = Figure::rate(
            &format!("place-order, {name} (A/B, closed loop)"),
            "commands/s",
            last,
        )
        .note(note);
        ctx.report.add(if i == 0 {
            figure
        } else {
            figure.limit("everything on, same run (mean)", reference)
        });
    }
    Ok(())
}

async fn place_orders(ctx: &Ctx, target: SocketAddr) -> anyhow::Result<Summary> {
    let secs = ctx.duration();
    let warm_up = (secs / 10).min(Duration::from_secs(3));
    let workload = Arc::new(PlaceOrder { target });
    closed_loop(ctx.args.clients, warm_up, secs, workload).await
}
