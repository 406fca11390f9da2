//! The fulfilment step: orders placed at a steady rate through a command service with
//! fulfilment on, each reserved, authorized (stripe-mock) and confirmed by a fulfilment
//! service. The figure is the time from the placement to the confirmation, both as the
//! command service accepted them (read from the log, one clock), and the rate of
//! confirmations the saga kept up with.

use crate::http::Conn;
use crate::report::Figure;
use crate::run::Ctx;
use crate::services::{Service, free_addr};
use crate::stats::Recorder;
use anyhow::Context;
use bytes::Bytes;
use orderflow_auth::Role;
use orderflow_auth::dev::DevIssuer;
use orderflow_domain::EventKind;
use orderflow_platform::{ReadToEnd, whole_partitions};
use orderflow_schemas::EventCodec;
use rdkafka::Message;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Products the orders draw from, each received in plenty first.
const PRODUCTS: usize = 50;
/// How long orders are placed.
const SECONDS: u64 = 20;

/// The topics the step writes (deleted at the end of the run).
pub fn topics(ctx: &Ctx) -> Vec<String> {
    ["fulfil", "fulfil.inventory", "fulfil.payments"]
        .map(|t| ctx.topic(t))
        .to_vec()
}

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    let stripe_bin = std::env::var("BENCH_STRIPE_MOCK")
        .context("BENCH_STRIPE_MOCK names the stripe-mock binary (scripts/bench.sh sets it)")?;
    let stripe_addr = free_addr()?;
    let stripe = ctx.launcher.spawn_binary(
        "stripe-mock",
        &stripe_bin,
        &[
            "-http-addr",
            &stripe_addr.to_string(),
            "-https-addr",
            "127.0.0.1:0",
        ],
    )?;
    let (commands, fulfilment) = services(ctx, &stripe_addr.to_string()).await?;
    let fulfilment_addr = fulfilment.addr.context("a listener")?;
    let mut conn = Conn::open(fulfilment_addr).await?;
    for product in 0..PRODUCTS {
        let receipt = Bytes::from(json!({"quantity": 1_000_000}).to_string());
        let r = conn
            .post(&format!("/stock/bench-{product}/receipts"), receipt)
            .await?;
        anyhow::ensure!(r.status == 200, "receiving stock: {}", r.status);
    }
    let rate = ctx.args.fulfil_rate.max(1);
    let placed = place(commands.addr.context("a listener")?, rate).await?;
    wait_confirmed(ctx, placed).await?;
    let (latency, span) = confirmation_times(ctx).await?;
    fulfilment.stop().await?;
    commands.stop().await?;
    stripe.stop().await?;
    let mut figure = Figure::new(
        &format!("place-order → confirmed (reserve 2 lines, authorize, confirm), {rate}/s"),
        latency.summary(span).p50_ms,
        "ms p50",
    );
    figure.latency = Some(latency.summary(span));
    figure.note = Some(format!(
        "{placed} orders over {SECONDS} s; from each OrderPlaced to its OrderConfirmed, as the command service accepted them; stripe-mock as Stripe"
    ));
    ctx.report.figures.push(figure);
    Ok(())
}

/// A command service with fulfilment on, and the fulfilment service, both ready.
async fn services(ctx: &Ctx, stripe: &str) -> anyhow::Result<(Service, Service)> {
    let topic = ctx.topic("fulfil");
    let commands_addr = free_addr()?;
    let mut commands = ctx.launcher.spawn(
        "fulfil-commands",
        "command-service",
        &[],
        &[
            ("ORDERFLOW_TOPIC", topic.clone()),
            ("ORDERFLOW_COMMAND_LISTEN", commands_addr.to_string()),
            ("ORDERFLOW_FULFILMENT", "true".into()),
        ],
        Some(commands_addr),
    )?;
    commands.ready(Duration::from_secs(60)).await?;
    let token = ctx.args.log_dir.join("fulfilment.token");
    let issuer = DevIssuer::load_or_create(std::path::Path::new(orderflow_auth::dev::DEFAULT_DIR))?;
    std::fs::write(
        &token,
        issuer.token("fulfilment", &[Role::Fulfilment], Duration::from_secs(3600)),
    )?;
    let addr = free_addr()?;
    let mut fulfilment = ctx.launcher.spawn(
        "fulfilment",
        "fulfilment",
        &[],
        &[
            ("ORDERFLOW_TOPIC", topic),
            ("ORDERFLOW_INVENTORY_TOPIC", ctx.topic("fulfil.inventory")),
            ("ORDERFLOW_PAYMENTS_TOPIC", ctx.topic("fulfil.payments")),
            ("ORDERFLOW_FULFILMENT_LISTEN", addr.to_string()),
            (
                "ORDERFLOW_FULFILMENT_DATABASE_URL",
                ctx.database_url.clone(),
            ),
            ("ORDERFLOW_COMMAND_URL", format!("http://{commands_addr}")),
            (
                "ORDERFLOW_FULFILMENT_TOKEN_FILE",
                token.display().to_string(),
            ),
            ("ORDERFLOW_STRIPE_URL", format!("http://{stripe}")),
        ],
        Some(addr),
    )?;
    fulfilment.ready(Duration::from_secs(60)).await?;
    Ok((commands, fulfilment))
}

/// Places `rate` orders a second for `SECONDS` (one task per order, so a slow answer
/// never delays the next placement); how many were placed.
async fn place(addr: std::net::SocketAddr, rate: u64) -> anyhow::Result<u64> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut placements = tokio::task::JoinSet::new();
    for n in 0..rate * SECONDS {
        tick.tick().await;
        let body = json!({
            "customer_id": format!("cust-{}", n % 100),
            "shipping_address": "1 Main St",
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "items": [
                {"product_id": format!("bench-{}", n as usize % PRODUCTS), "quantity": 1, "unit_price": "9.99"},
                {"product_id": format!("bench-{}", (n as usize * 7 + 3) % PRODUCTS), "quantity": 2, "unit_price": "4.50"},
            ],
        });
        placements.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            conn.post("/orders", Bytes::from(body.to_string())).await
        });
    }
    let mut placed = 0;
    while let Some(answer) = placements.join_next().await {
        let response = answer??;
        anyhow::ensure!(response.status == 201, "placing: {}", response.status);
        placed += 1;
    }
    Ok(placed)
}

/// Waits until the fulfilment read model shows `placed` sagas confirmed.
async fn wait_confirmed(ctx: &Ctx, placed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let (confirmed,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM fulfilment.sagas WHERE status = 'confirmed'")
                .fetch_one(&ctx.db)
                .await?;
        if confirmed as u64 >= placed {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {confirmed} of {placed} confirmed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each order's time from its placement to its confirmation, from the log; and the span
/// from the first placement to the last confirmation.
async fn confirmation_times(ctx: &Ctx) -> anyhow::Result<(Recorder, Duration)> {
    let topic = ctx.topic("fulfil");
    let codec = EventCodec::new(&ctx.registry, &topic)?;
    let reader = ReadToEnd::open(
        &ctx.kafka,
        &[("group.id", "bench-fulfil")],
        &topic,
        &whole_partitions(ctx.args.partitions),
        Duration::from_secs(30),
    )?;
    let mut placed: HashMap<String, i64> = HashMap::new();
    let mut latency = Recorder::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for message in reader.collect().await? {
        let event = codec.decode(message.payload().unwrap_or_default()).await?;
        let at = event.meta.occurred_at.0;
        match event.kind {
            EventKind::Placed(_) => {
                first = first.min(at);
                placed.insert(event.order_id, at);
            }
            EventKind::Confirmed => {
                let since = placed
                    .get(&event.order_id)
                    .context("a confirmation of an unplaced order")?;
                latency.record_latency(Duration::from_millis((at - since).max(0) as u64));
                last = last.max(at);
            }
            _ => {}
        }
    }
    Ok((latency, Duration::from_millis((last - first).max(1) as u64)))
}
