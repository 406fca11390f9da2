//! The demo driver (issue 18): places orders through the command API at a chosen rate and
//! moves each along after realistic delays, as a warehouse, a carrier and a delivery
//! service would (some are cancelled), so the query API's dashboard and tracking pages
//! come alive on the local stack.
//!
//! Layout: `plan` decides what happens to one order (pure); `client` sends the commands,
//! retrying what the service asks to be retried; this file runs the orders.

mod client;
mod plan;

pub use client::{CommandClient, CommandError};
pub use plan::{Step, plan};

use rand::Rng;
use serde_json::json;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What the driver does.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoSettings {
    /// The command API.
    #[arg(
        long,
        env = "ORDERFLOW_DEMO_COMMANDS",
        default_value = "http://127.0.0.1:8080"
    )]
    pub commands: String,
    /// Orders placed per second.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub rate: f64,
    /// Orders to place before stopping (0: until Ctrl-C); the driver then waits until
    /// every order has come to its end.
    #[arg(long, default_value_t = 0)]
    pub orders: u64,
    /// How much faster than real life the warehouse and the carriers are (delays of
    /// seconds at 1).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub speed: f64,
    /// Percentage of orders cancelled before they ship.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub cancel_percent: u8,
    /// The fulfilment service, where fulfilment runs: the driver receives stock of every
    /// product it orders there first, and waits for each order's confirmation.
    #[arg(long, env = "ORDERFLOW_DEMO_FULFILMENT")]
    pub fulfilment: Option<String>,
}

/// A finite number above 0 (a rate or a speed of 0 would divide by it).
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a number above 0")),
    }
}

/// What became of the orders.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub placed: u64,
    pub delivered: u64,
    pub cancelled: u64,
    /// Orders fulfilment rejected (out of stock).
    pub rejected: u64,
    /// Orders whose placement or a later command failed (logged).
    pub failed: u64,
}

/// How one order ended.
enum End {
    Delivered,
    Cancelled,
    Rejected,
    Failed,
}

/// The products the driver orders.
const PRODUCTS: u32 = 12;
/// Units of each product received before the first order, where fulfilment runs.
const STOCK: u32 = 1_000;

/// Places and moves orders until `settings.orders` have ended or `stop` is cancelled.
pub async fn run(
    settings: &DemoSettings,
    client: CommandClient,
    stop: CancellationToken,
) -> Summary {
    let mut summary = Summary::default();
    if let Some(fulfilment) = &settings.fulfilment {
        for product in 1..=PRODUCTS {
            let receipt = json!({ "quantity": STOCK });
            let path = format!("/stock/sku-{product}/receipts");
            if let Err(e) = client.send_to(fulfilment, &path, &receipt).await {
                tracing::warn!(error = %e, "receiving stock failed; orders may be rejected");
            }
        }
    }
    let mut orders = JoinSet::new();
    let period = Duration::from_secs_f64(1.0 / settings.rate).max(Duration::from_micros(1));
    let mut tick = tokio::time::interval(period);
    let run = rand::random::<u32>();
    while settings.orders == 0 || summary.placed < settings.orders {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => break,
        }
        summary.placed += 1;
        let key = format!("demo-{run:08x}-{}", summary.placed);
        let steps = plan(&mut rand::rng(), settings.cancel_percent, settings.speed);
        orders.spawn(one_order(client.clone(), key, steps, stop.clone()));
        while let Some(ended) = orders.try_join_next() {
            count(&mut summary, ended.ok());
        }
    }
    while let Some(ended) = orders.join_next().await {
        count(&mut summary, ended.ok());
    }
    summary
}

fn count(summary: &mut Summary, ended: Option<End>) {
    match ended {
        Some(End::Delivered) => summary.delivered += 1,
        Some(End::Cancelled) => summary.cancelled += 1,
        Some(End::Rejected) => summary.rejected += 1,
        Some(End::Failed) | None => summary.failed += 1,
    }
}

/// Places one order (under `key`, so a retry cannot place it twice) and takes its steps.
async fn one_order(
    client: CommandClient,
    key: String,
    steps: Vec<(Duration, Step)>,
    stop: CancellationToken,
) -> End {
    let (placed, status) = match client.send("/orders", &order_body(), Some(&key)).await {
        Ok(answer) => (
            answer["order_id"].as_str().unwrap_or_default().to_owned(),
            answer["status"].as_str().unwrap_or_default().to_owned(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "placing an order failed");
            return End::Failed;
        }
    };
    tracing::info!(order_id = %placed, %status, "placed");
    if status == "pending" {
        match client.settled(&placed, &stop).await.as_deref() {
            Some("confirmed") => {}
            Some("rejected") => return End::Rejected,
            other => {
                tracing::warn!(order_id = %placed, status = ?other, "the order was not confirmed");
                return End::Failed;
            }
        }
    }
    let mut end = End::Delivered;
    for (delay, step) in steps {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return End::Failed,
        }
        let path = format!("/orders/{placed}/{}", step.path);
        if let Err(e) = client.send(&path, &step.body, None).await {
            tracing::warn!(order_id = %placed, error = %e, "a command failed; leaving the order");
            return End::Failed;
        }
        tracing::info!(order_id = %placed, step = step.path, "moved");
        if step.path == "cancel" {
            end = End::Cancelled;
        }
    }
    end
}

/// A placement for one of twenty customers, of one to three products.
fn order_body() -> serde_json::Value {
    let mut rng = rand::rng();
    let items: Vec<_> = (0..rng.random_range(1..=3))
        .map(|_| {
            let product = rng.random_range(1..=PRODUCTS);
            json!({
                "product_id": format!("sku-{product}"),
                "quantity": rng.random_range(1..=3),
                "unit_price": format!("{}.{:02}", 5 + product * 3, rng.random_range(0..100)),
            })
        })
        .collect();
    json!({
        "customer_id": format!("cust-{}", rng.random_range(1..=20)),
        "shipping_address": format!("{} Main St, Springfield", rng.random_range(1..=200)),
        "items": items,
        // Stripe's test card; where fulfilment is off, it is kept and never charged.
        "payment_method": "pm_card_visa",
    })
}

#[cfg(test)]
mod tests {
    use super::positive;

    #[test]
    fn rates_and_speeds_are_numbers_above_zero() {
        assert_eq!(positive("2.5"), Ok(2.5));
        for bad in ["0", "-1", "NaN", "inf", "fast"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
    }
}
