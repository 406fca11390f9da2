//! The HTTP steps: the services under load from the same generator, each figure next to
//! the empty handler (and, for reads, Redis itself) under the same load.

use crate::limits::RedisGet;
use crate::load::{Workload, closed_loop, open_loop};
use crate::report::Figure;
use crate::run::Ctx;
use crate::services::{Service, free_addr};
use crate::stats::Summary;
use crate::workloads::{GetOrder, Lifecycle, PlaceOrder, Visibility};
use orderflow_read_model::order_cache_key;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Orders whose documents stay cached for the cache-hit steps; the rest are evicted for
/// the cache-miss step.
const HIT_SET: usize = 20_000;
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// The services the HTTP steps talk to.
struct Targets {
    commands: SocketAddr,
    queries: SocketAddr,
    empty: SocketAddr,
}

pub async fn run(ctx: &mut Ctx, order_ids: Vec<String>) -> anyhow::Result<()> {
    let (services, targets) = start(ctx).await?;
    let result = steps(ctx, &targets, order_ids).await;
    for service in services {
        service.stop().await?;
    }
    result
}

async fn start(ctx: &Ctx) -> anyhow::Result<(Vec<Service>, Targets)> {
    let topic = ctx.topic("events");
    let targets = Targets {
        commands: free_addr()?,
        queries: free_addr()?,
        empty: free_addr()?,
    };
    let launcher = &ctx.launcher;
    let mut services = vec![
        launcher.spawn(
            "command-service",
            "command-service",
            &[],
            &[
                ("ORDERFLOW_TOPIC", topic),
                ("ORDERFLOW_COMMAND_LISTEN", targets.commands.to_string()),
            ],
            Some(targets.commands),
        )?,
        launcher.spawn(
            "query-api",
            "query-api",
            &[],
            &[("ORDERFLOW_QUERY_LISTEN", targets.queries.to_string())],
            Some(targets.queries),
        )?,
        launcher.spawn(
            "empty-handler",
            "bench",
            &["serve-empty", "--listen", &targets.empty.to_string()],
            &[],
            Some(targets.empty),
        )?,
    ];
    for service in &mut services {
        service.ready(READY_TIMEOUT).await?;
    }
    Ok((services, targets))
}

async fn steps(ctx: &mut Ctx, t: &Targets, order_ids: Vec<String>) -> anyhow::Result<()> {
    commands(ctx, t).await?;
    crate::ab_steps::run(ctx).await?;
    queries(ctx, t, order_ids).await
}

async fn commands(ctx: &mut Ctx, t: &Targets) -> anyhow::Result<()> {
    let (clients, secs) = (ctx.args.clients, ctx.duration());
    eprintln!("http: empty handler, place-order, lifecycle");
    let empty = closed(clients, secs, PlaceOrder { target: t.empty }).await?;
    let empty_rate = empty.per_second;
    ctx.report.add(Figure::rate(
        "Limit: empty axum handler, POST /orders (closed loop)",
        "requests/s",
        empty,
    ));
    let place = closed(clients, secs, PlaceOrder { target: t.commands }).await?;
    settle(ctx).await?;
    let place_rate = place.per_second;
    let met = place_rate >= 10_000.0 && place.p99_ms <= 50.0;
    ctx.report.add(
        Figure::rate("place-order (closed loop)", "commands/s", place)
            .target("≥ 10,000/s, p99 ≤ 50 ms", met)
            .limit("empty handler", empty_rate),
    );
    low_load(ctx, t).await?;
    let rate = (place_rate * ctx.args.open_load).max(1.0);
    let open = open(ctx, rate, Arc::new(PlaceOrder { target: t.commands })).await?;
    ctx.report.add(
        Figure::rate("place-order (open loop)", "commands/s", open).note(format!(
            "scheduled at {rate:.0}/s ({:.0}% of the closed loop's rate); latency from the scheduled start",
            ctx.args.open_load * 100.0
        )),
    );
    settle(ctx).await?;
    let lifecycle = closed(clients, secs, Lifecycle { target: t.commands }).await?;
    settle(ctx).await?;
    let met = lifecycle.per_second >= 8_000.0;
    ctx.report.add(
        Figure::rate("Full lifecycle (closed loop)", "commands/s", lifecycle)
            .target("≥ 8,000/s", met)
            .limit("empty handler", empty_rate)
            .note("place, pack, ship, 2 location updates, deliver; each client drives one order at a time"),
    );
    visibility(ctx, t).await
}

/// place-order at low load: one client (the latency of a lone command) and 16 clients.
async fn low_load(ctx: &mut Ctx, t: &Targets) -> anyhow::Result<()> {
    let secs = ctx.duration();
    let one = closed(1, secs, PlaceOrder { target: t.commands }).await?;
    settle(ctx).await?;
    let met = one.p50_ms <= 3.0;
    ctx.report.add(
        Figure::rate("place-order, 1 client (closed loop)", "commands/s", one)
            .target("p50 ≤ 3 ms", met),
    );
    let sixteen = closed(16, secs, PlaceOrder { target: t.commands }).await?;
    settle(ctx).await?;
    let met = sixteen.per_second >= 3_000.0;
    ctx.report.add(
        Figure::rate(
            "place-order, 16 clients (closed loop)",
            "commands/s",
            sixteen,
        )
        .target("≥ 3,000/s", met),
    );
    Ok(())
}

async fn visibility(ctx: &mut Ctx, t: &Targets) -> anyhow::Result<()> {
    let rate = ctx.args.visibility_rate;
    eprintln!("http: visibility at {rate}/s");
    let workload = Arc::new(Visibility::new(t.commands, t.queries));
    let whole = open(ctx, rate, workload.clone()).await?;
    let elapsed = Duration::from_secs_f64(whole.seconds);
    let visible = workload
        .visible_after
        .lock()
        .expect("poisoned")
        .summary(elapsed);
    let command = workload
        .command_latency
        .lock()
        .expect("poisoned")
        .summary(elapsed);
    let p99 = visible.p99_ms;
    let mut figure = Figure::rate("Command-to-query visibility (open loop)", "orders/s", visible)
        .target(&format!("p99 ≤ 50 ms at {rate:.0}/s"), p99 <= 50.0 && whole.failed == 0)
        .note(format!(
            "time from the command's 201 until GET /orders/{{id}}?min_version=v answers; command p50 {:.1} ms, p99 {:.1} ms; {} failed",
            command.p50_ms, command.p99_ms, whole.failed
        ));
    figure.value = p99;
    figure.unit = "ms p99".into();
    ctx.report.add(figure);
    Ok(())
}

async fn queries(ctx: &mut Ctx, t: &Targets, mut ids: Vec<String>) -> anyhow::Result<()> {
    eprintln!("http: GET limits, cache hit, cache miss");
    let misses = ids.split_off(HIT_SET.min(ids.len() / 2));
    let hits = Arc::new(ids);
    // Every hit-set document is read once, so the hit steps find all of them cached.
    each_once(
        ctx.args.clients,
        READY_TIMEOUT,
        GetOrder::new(t.queries, hits.clone(), true),
    )
    .await?;
    let (empty_rate, redis_rate, prefix) = query_limits(ctx, t, &hits).await?;
    settle(ctx).await?;
    cache_hits(ctx, t, hits, empty_rate, redis_rate).await?;
    evict(ctx, &prefix, &misses).await?;
    settle(ctx).await?;
    let get = GetOrder::new(t.queries, Arc::new(misses), true);
    let miss = each_once(ctx.args.clients, ctx.duration(), get).await?;
    ctx.report.add(
        Figure::rate(
            "GET /orders/{id}, cache miss (closed loop)",
            "requests/s",
            miss,
        )
        .limit("empty handler", empty_rate)
        .note(
            "each id once, its document evicted from Redis first: read from Postgres, then cached",
        ),
    );
    Ok(())
}

/// The limits of a lookup: an empty handler, and Redis GETs of the cached documents; their
/// rates, and the live generation's Redis prefix.
async fn query_limits(
    ctx: &mut Ctx,
    t: &Targets,
    hits: &Arc<Vec<String>>,
) -> anyhow::Result<(f64, f64, String)> {
    let (clients, secs) = (ctx.args.clients, ctx.duration());
    let empty = closed(clients, secs, GetOrder::new(t.empty, hits.clone(), false)).await?;
    let empty_rate = empty.per_second;
    ctx.report.add(Figure::rate(
        "Limit: empty axum handler, GET /orders/{id} (closed loop)",
        "requests/s",
        empty,
    ));
    let prefix = generation_prefix(ctx).await?;
    let keys = hits.iter().map(|id| order_cache_key(&prefix, id)).collect();
    let redis = closed(clients, secs, RedisGet::new(&ctx.redis_url, keys).await?).await?;
    let redis_rate = redis.per_second;
    ctx.report.add(Figure::rate(
        "Limit: Redis GET of the cached documents (redis crate)",
        "requests/s",
        redis,
    ));
    Ok((empty_rate, redis_rate, prefix))
}

/// Cache hits in a closed loop, then in an open loop at the target rate.
async fn cache_hits(
    ctx: &mut Ctx,
    t: &Targets,
    hits: Arc<Vec<String>>,
    empty_rate: f64,
    redis_rate: f64,
) -> anyhow::Result<()> {
    let (clients, secs) = (ctx.args.clients, ctx.duration());
    let hit = closed(clients, secs, GetOrder::new(t.queries, hits.clone(), false)).await?;
    let hit_rate = hit.per_second;
    ctx.report.add(
        Figure::rate(
            "GET /orders/{id}, cache hit (closed loop)",
            "requests/s",
            hit,
        )
        .target("≥ 25,000/s", hit_rate >= 25_000.0)
        .limit("empty handler", empty_rate)
        .note(format!(
            "{:.0}% of the Redis GET limit",
            100.0 * hit_rate / redis_rate
        )),
    );
    let rate = ctx.args.get_rate;
    let open = open(ctx, rate, Arc::new(GetOrder::new(t.queries, hits, false))).await?;
    // Met when the rate was held (every scheduled request answered) with the p99.
    let held = open.failed == 0 && open.ok as f64 >= 0.99 * rate * secs.as_secs_f64();
    let met = rate >= 20_000.0 && held && open.p99_ms <= 5.0;
    ctx.report.add(
        Figure::rate(
            "GET /orders/{id}, cache hit (open loop)",
            "requests/s",
            open,
        )
        .target("p99 ≤ 5 ms at 20,000/s", met)
        .limit("empty handler", empty_rate)
        .note(format!(
            "scheduled at {rate:.0}/s; latency from the scheduled start"
        )),
    );
    Ok(())
}

/// A closed loop with a warm-up of a tenth of `secs` (at most 3 s).
async fn closed<W: Workload>(clients: usize, secs: Duration, w: W) -> anyhow::Result<Summary> {
    let warm_up = (secs / 10).min(Duration::from_secs(3));
    closed_loop(clients, warm_up, secs, Arc::new(w)).await
}

/// A closed loop over a finite workload, every operation recorded, for at most `secs`.
async fn each_once<W: Workload>(clients: usize, secs: Duration, w: W) -> anyhow::Result<Summary> {
    closed_loop(clients, Duration::ZERO, secs, Arc::new(w)).await
}

/// An open loop at `rate`, on enough connections that the pool never caps the rate a
/// server keeps up with (four times the closed loop's clients).
async fn open<W: Workload>(ctx: &Ctx, rate: f64, w: Arc<W>) -> anyhow::Result<Summary> {
    open_loop(ctx.args.clients * 4, rate, ctx.duration(), w).await
}

/// Waits until the projector has folded everything the last step appended, so each step
/// starts on an idle machine rather than beside the previous step's backlog.
async fn settle(ctx: &Ctx) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut last = None;
    while started.elapsed() < READY_TIMEOUT {
        let folded = crate::backlog::folded_total(ctx).await?;
        if last == Some(folded) {
            return Ok(());
        }
        last = Some(folded);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the projector did not settle")
}

/// The Redis prefix of the live generation.
async fn generation_prefix(ctx: &Ctx) -> anyhow::Result<String> {
    let (prefix,): (String,) = sqlx::query_as("SELECT redis_prefix FROM orderflow_read.generation")
        .fetch_one(&ctx.db)
        .await?;
    Ok(prefix)
}

/// Deletes the cached documents of `ids`, so reading them misses the cache.
async fn evict(ctx: &Ctx, prefix: &str, ids: &[String]) -> anyhow::Result<()> {
    let client = redis::Client::open(ctx.redis_url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    for chunk in ids.chunks(1_000) {
        let mut unlink = redis::cmd("UNLINK");
        for id in chunk {
            unlink.arg(order_cache_key(prefix, id));
        }
        let _: i64 = unlink.query_async(&mut conn).await?;
    }
    Ok(())
}
