//! The notifier step: a log of lifecycles folded into the outbox by a notifier started on
//! it, every status change delivered to one webhook (a receiver in this process that
//! answers 204 at once), timed from the notifier's start: how fast it folds the log, and
//! how fast it delivers.

use crate::report::Figure;
use crate::run::Ctx;
use crate::seed;
use crate::services::free_addr;
use anyhow::Context;
use axum::routing::post;
use orderflow_outbox::{Channel, NewSubscription};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Status changes per lifecycle (placed, packed, shipped, delivered; location updates
/// notify no one).
const NOTICES_PER_ORDER: u64 = 4;
/// Longest the notifier may take before the run gives up.
const TIMEOUT: Duration = Duration::from_secs(900);

/// The topics the step writes (deleted at the end of the run).
pub fn topics(ctx: &Ctx) -> Vec<String> {
    ["notify", "notify.outbound", "notify.dlq"]
        .map(|t| ctx.topic(t))
        .to_vec()
}

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (topic, backlog) = ctx.new_log("notify", ctx.args.notify_events).await?;
    let events = backlog.records.len() as i64;
    let notices = (backlog.records.len() / seed::LIFECYCLE) as u64 * NOTICES_PER_ORDER;
    seed::produce(&ctx.kafka, &topic, &backlog.records).await?;
    drop(backlog);

    let received = Arc::new(AtomicU64::new(0));
    let url = receiver(received.clone()).await?;
    orderflow_outbox::migrate(&ctx.db, "orderflow_query").await?;
    let hook = NewSubscription {
        channel: Channel::Webhook,
        customer_id: None,
        target: url,
        created_by: "bench".into(),
    };
    orderflow_outbox::create(&ctx.db, &hook).await?;
    let env = [
        ("ORDERFLOW_TOPIC", topic.clone()),
        ("ORDERFLOW_NOTIFIER_LISTEN", free_addr()?.to_string()),
        ("ORDERFLOW_NOTIFIER_DATABASE_URL", ctx.database_url.clone()),
        (
            "ORDERFLOW_NOTIFIER_GROUP",
            format!("bench-notify-{}", ctx.run_id),
        ),
        (
            "ORDERFLOW_NOTIFIER_OUTBOUND_TOPIC",
            ctx.topic("notify.outbound"),
        ),
        ("ORDERFLOW_NOTIFIER_DLQ_TOPIC", ctx.topic("notify.dlq")),
    ];
    let started = Instant::now();
    let notifier = ctx
        .launcher
        .spawn("notifier", "notifier", &[], &env, None)?;
    let folded = wait(started, || folded(ctx, events)).await?;
    let delivered = wait(started, || delivered(ctx, notices)).await?;
    notifier.stop().await?;
    anyhow::ensure!(
        received.load(Ordering::SeqCst) >= notices,
        "the receiver missed deliveries"
    );
    report(ctx, events, notices, folded, delivered);
    Ok(())
}

/// Polls `done` every 100 ms; how long from `started` until it says so.
async fn wait<F, Fut>(started: Instant, mut done: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    while !done().await? {
        anyhow::ensure!(
            started.elapsed() < TIMEOUT,
            "the notifier did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}

/// Whether the notifier's stored offsets cover all `events` (every partition starts at 0).
async fn folded(ctx: &Ctx, events: i64) -> anyhow::Result<bool> {
    let (sum,): (Option<i64>,) =
        sqlx::query_as("SELECT sum(next_offset)::bigint FROM notifier.offsets")
            .fetch_one(&ctx.db)
            .await
            .context("reading the notifier's offsets")?;
    Ok(sum.unwrap_or(0) >= events)
}

async fn delivered(ctx: &Ctx, notices: u64) -> anyhow::Result<bool> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM notifier.deliveries WHERE state = 'delivered'")
            .fetch_one(&ctx.db)
            .await?;
    Ok(count as u64 >= notices)
}

/// A webhook receiver that counts and answers 204; its URL.
async fn receiver(received: Arc<AtomicU64>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            received.fetch_add(1, Ordering::Relaxed);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn report(ctx: &mut Ctx, events: i64, notices: u64, folded: Duration, delivered: Duration) {
    let fold_rate = events as f64 / folded.as_secs_f64();
    ctx.report.add(Figure::new("Notifier: fold of the log into the outbox", fold_rate, "events/s").note(
        format!("{events} events ({notices} notices, one webhook subscription) in {:.1} s from process start", folded.as_secs_f64()),
    ));
    let rate = notices as f64 / delivered.as_secs_f64();
    ctx.report.add(Figure::new("Notifier: webhook deliveries, signed, published and recorded", rate, "deliveries/s").note(
        format!(
            "{notices} deliveries to a local receiver in {:.1} s from process start (fold included); each also on notifications.outbound (Avro)",
            delivered.as_secs_f64()
        ),
    ));
}
