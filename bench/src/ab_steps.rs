//! A/B steps: place-order on command services that differ from the measured one in one
//! setting (metrics off, authentication off), run back to back with the same load and
//! alternated with the reference, so what a feature costs is read from one run at one
//! machine moment rather than across runs (issue 16: metrics must cost nothing measurable;
//! issue 15: what verifying tokens costs).

use crate::load::closed_loop;
use crate::report::Figure;
use crate::run::Ctx;
use crate::services::free_addr;
use crate::stats::Summary;
use crate::workloads::PlaceOrder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The variants: a name, and the one setting that differs from the reference.
const VARIANTS: [(&str, &str, &str); 2] = [
    ("metrics off", "ORDERFLOW_METRICS", "disabled"),
    ("authentication off", "ORDERFLOW_AUTH", "disabled"),
];
/// Reference and variant are each measured this many times, alternating.
const ROUNDS: usize = 2;

/// The topics the A/B services write (deleted with the run's others).
pub fn topics(ctx: &Ctx) -> Vec<String> {
    (0..VARIANTS.len())
        .map(|i| ctx.topic(&format!("ab{i}")))
        .collect()
}

/// Measures each variant against the command service at `reference`.
pub async fn run(ctx: &mut Ctx, reference: SocketAddr) -> anyhow::Result<()> {
    for (i, (name, key, value)) in VARIANTS.into_iter().enumerate() {
        eprintln!("http: place-order A/B, {name}");
        let addr = free_addr()?;
        let env = [
            ("ORDERFLOW_TOPIC", topics(ctx)[i].clone()),
            ("ORDERFLOW_COMMAND_LISTEN", addr.to_string()),
            (key, value.to_owned()),
        ];
        let name_of_log = format!("command-service-ab{i}");
        let mut service =
            ctx.launcher
                .spawn(&name_of_log, "command-service", &[], &env, Some(addr))?;
        service.ready(Duration::from_secs(600)).await?;
        let result = compare(ctx, name, reference, addr).await;
        service.stop().await?;
        result?;
    }
    Ok(())
}

async fn compare(
    ctx: &mut Ctx,
    name: &str,
    reference: SocketAddr,
    variant: SocketAddr,
) -> anyhow::Result<()> {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        with.push(place_orders(ctx, reference).await?);
        without.push(place_orders(ctx, variant).await?);
    }
    let rates = |s: &[Summary]| {
        let each: Vec<String> = s.iter().map(|s| format!("{:.0}", s.per_second)).collect();
        each.join(", ")
    };
    let note = format!(
        "alternated {ROUNDS}× with the reference: everything on {} commands/s, {name} {} commands/s",
        rates(&with),
        rates(&without)
    );
    let reference_rate = with.iter().map(|s| s.per_second).sum::<f64>() / ROUNDS as f64;
    // The figure is the variant's last round; the note has every round.
    let last = without.pop().expect("ROUNDS > 0");
    ctx.report.add(
        Figure::rate(
            &format!("place-order, {name} (A/B, closed loop)"),
            "commands/s",
            last,
        )
        .limit(
            "the same service with everything on, same run",
            reference_rate,
        )
        .note(note),
    );
    Ok(())
}

async fn place_orders(ctx: &Ctx, target: SocketAddr) -> anyhow::Result<Summary> {
    let secs = ctx.duration();
    let warm_up = (secs / 10).min(Duration::from_secs(3));
    let summary = closed_loop(
        ctx.args.clients,
        warm_up,
        secs,
        Arc::new(PlaceOrder { target }),
    )
    .await?;
    Ok(summary)
}
