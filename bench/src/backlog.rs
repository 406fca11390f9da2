//! The backlog steps: seed a log, read it raw, let the projector catch up with it, `COPY`
//! the same rows, then rebuild the read model from it.

use crate::limits::{self, Consumed};
use crate::report::Figure;
use crate::run::Ctx;
use crate::seed::{self, LIFECYCLE};
use crate::services::{Service, free_addr};
use anyhow::Context;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the backlog steps leave running for the HTTP steps.
pub struct Live {
    /// The live projector, caught up (and moved to the rebuilt generation).
    pub projector: Service,
    /// The orders of the backlog, all delivered.
    pub order_ids: Vec<String>,
}

/// Longest the projector may take to catch up before the run gives up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(900);

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<Live> {
    let (topic, backlog) = ctx.new_log("events", ctx.args.backlog_events).await?;
    let order_ids: Vec<String> = backlog
        .records
        .iter()
        .step_by(LIFECYCLE)
        .map(|(key, _)| key.clone())
        .collect();
    let produced = seed::produce(&ctx.kafka, &topic, &backlog.records).await?;
    let total = backlog.records.len();
    drop(backlog);
    let produce_rate = total as f64 / produced.as_secs_f64();
    ctx.report.add(
        Figure::new(
            "Limit: raw produce (rdkafka, pre-encoded records)",
            produce_rate,
            "events/s",
        )
        .note(format!(
            "{total} records in {:.1} s, idempotent producer, linger 20 ms",
            produced.as_secs_f64()
        )),
    );
    let consumed = limits::raw_consume(&ctx.kafka, &topic, ctx.args.partitions).await?;
    let consume_rate = consumed.events as f64 / consumed.elapsed.as_secs_f64();
    ctx.report.add(Figure::new(
        "Limit: raw consume (rdkafka)",
        consume_rate,
        "events/s",
    ));
    let projector = catch_up(ctx, &topic, &consumed, consume_rate).await?;
    rebuild(ctx, &topic, consumed.events).await?;
    Ok(Live {
        projector,
        order_ids,
    })
}

/// Starts the live projector on the backlog and times it until its stored offsets reach
/// the end of every partition; then measures the `COPY` limit for the same rows.
async fn catch_up(
    ctx: &mut Ctx,
    topic: &str,
    consumed: &Consumed,
    consume_rate: f64,
) -> anyhow::Result<Service> {
    eprintln!("backlog: projector catch-up");
    let env = [
        ("ORDERFLOW_TOPIC", topic.to_owned()),
        ("ORDERFLOW_PROJECTOR_LISTEN", free_addr()?.to_string()),
    ];
    let started = Instant::now();
    let projector = ctx
        .launcher
        .spawn("projector", "projector", &[], &env, None)?;
    let mut first_progress = None;
    loop {
        let done = folded(ctx, topic, &consumed.ends).await.unwrap_or(0);
        if done > 0 && first_progress.is_none() {
            first_progress = Some((started.elapsed(), done));
        }
        if done >= consumed.events {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < CATCH_UP_TIMEOUT,
            "the projector did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let rate = consumed.events as f64 / elapsed.as_secs_f64();
    let steady = first_progress.map_or(rate, |(at, done)| {
        (consumed.events - done) as f64 / (elapsed - at).as_secs_f64().max(0.001)
    });
    let copy_rate = copy_limit(ctx, consumed.events).await?;
    ctx.report.add(
        Figure::new("Projector catch-up into Postgres and Redis", rate, "events/s")
            .target("≥ 35,000 events/s", rate >= 35_000.0)
            .limit("COPY", copy_rate)
            .note(format!(
                "{} events in {:.1} s from process start; {steady:.0} events/s from the first committed batch; {:.0}% of raw consume",
                consumed.events,
                elapsed.as_secs_f64(),
                100.0 * rate / consume_rate
            )),
    );
    Ok(projector)
}

/// Records of the backlog the live generation has folded, from its stored offsets.
async fn folded(ctx: &Ctx, topic: &str, ends: &BTreeMap<i32, i64>) -> anyhow::Result<u64> {
    let schema = live_schema(ctx).await?;
    let rows: Vec<(i32, i64)> = sqlx::query_as(&format!(
        "SELECT partition, next_offset FROM {schema}.projection_offsets WHERE topic = $1"
    ))
    .bind(topic)
    .fetch_all(&ctx.db)
    .await?;
    // Every partition starts at offset 0, so the next offset is the count folded.
    Ok(rows
        .iter()
        .map(|(p, next)| (*next).min(ends.get(p).copied().unwrap_or(0)).max(0) as u64)
        .sum())
}

/// Records the live generation has folded over all partitions of its topic.
pub async fn folded_total(ctx: &Ctx) -> anyhow::Result<i64> {
    let schema = live_schema(ctx).await?;
    let (sum,): (Option<i64>,) = sqlx::query_as(&format!(
        "SELECT sum(next_offset)::bigint FROM {schema}.projection_offsets"
    ))
    .fetch_one(&ctx.db)
    .await?;
    Ok(sum.unwrap_or(0))
}

/// The schema of the live generation.
pub async fn live_schema(ctx: &Ctx) -> anyhow::Result<String> {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM orderflow_read.generation")
        .fetch_one(&ctx.db)
        .await?;
    Ok(format!("orderflow_g{id}"))
}

/// The `COPY` limit: the rows the projector made of the backlog, written by `COPY`.
async fn copy_limit(ctx: &mut Ctx, events: u64) -> anyhow::Result<f64> {
    eprintln!("backlog: COPY limit");
    let orders = (events as usize).div_ceil(LIFECYCLE);
    let records = limits::decoded((0..orders).flat_map(seed::lifecycle).collect());
    let live = live_schema(ctx).await?;
    let copied = limits::pg_copy(&ctx.db, &live, "bench_copy", records).await?;
    let rate = copied.events as f64 / copied.elapsed.as_secs_f64();
    ctx.report.add(
        Figure::new("Limit: Postgres COPY of the same rows", rate, "events/s").note(format!(
            "{} rows (orders, items, history) for {} events in {:.1} s",
            copied.rows,
            copied.events,
            copied.elapsed.as_secs_f64()
        )),
    );
    Ok(rate)
}

/// `projector rebuild` of the whole backlog beside the live projector, timed from process
/// start to exit (the switch included).
async fn rebuild(ctx: &mut Ctx, topic: &str, events: u64) -> anyhow::Result<()> {
    eprintln!("backlog: rebuild");
    let env = [
        ("ORDERFLOW_TOPIC", topic.to_owned()),
        ("ORDERFLOW_PROJECTOR_LISTEN", free_addr()?.to_string()),
    ];
    let args = ["rebuild", "--progress", "log", "--drop-grace-secs", "1"];
    let mut child = ctx
        .launcher
        .spawn("rebuild", "projector", &args, &env, None)?;
    let (status, elapsed, peak) = child.finish().await?;
    anyhow::ensure!(status.success(), "the rebuild failed: {status}");
    let rate = events as f64 / elapsed.as_secs_f64();
    let per_million = elapsed.as_secs_f64() * 1e6 / events as f64;
    let copy = ctx
        .report
        .figures
        .iter()
        .find(|f| f.name.starts_with("Limit: Postgres COPY"))
        .map(|f| f.value)
        .context("the COPY limit is measured first")?;
    ctx.report.add(
        Figure::new(
            "Rebuild of the backlog (beside the live projector)",
            rate,
            "events/s",
        )
        .target("1M events ≤ 30 s", per_million <= 30.0)
        .limit("COPY", copy)
        .note(format!(
            "{events} events in {:.1} s ({per_million:.1} s per million), peak RSS {} MiB",
            elapsed.as_secs_f64(),
            peak / (1 << 20)
        )),
    );
    Ok(())
}
