//! End to end over the real stack: commands through the command service, the projector
//! folding the log, answers through the query API. Each test gets its own topic (so its
//! own registry subjects), read-model database, Redis prefix and consumer group.

mod broker;
mod broker_faults;
mod customers;
mod demo;
mod kubernetes;
mod load;
mod notifications;
mod observability;
mod pages;
mod rebuild;
mod secured;
mod sse;
mod stack;
mod streams;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use stack::Stack;
use std::collections::HashMap;

/// One order of the scenario and what the command side said about it.
struct Placed {
    id: String,
    customer: String,
    total: Decimal,
    version: u64,
    status: &'static str,
    steps: Vec<&'static str>,
    index: usize,
    /// Quantities placed, by product.
    lines: [(String, i64); 2],
}

fn items(i: usize) -> (Value, Decimal, [(String, i64); 2]) {
    let qty_a = (i % 3 + 1) as i64;
    let qty_b = (i % 5 + 1) as i64;
    let body = json!([
        {"product_id": "sku-a", "quantity": qty_a, "unit_price": "19.99"},
        {"product_id": format!("sku-{}", i % 4), "quantity": qty_b, "unit_price": "2.50"},
    ]);
    let total =
        Decimal::new(1999, 2) * Decimal::from(qty_a) + Decimal::new(250, 2) * Decimal::from(qty_b);
    (
        body,
        total,
        [("sku-a".into(), qty_a), (format!("sku-{}", i % 4), qty_b)],
    )
}

fn lifecycle(i: usize) -> (&'static [&'static str], &'static str) {
    match i % 4 {
        0 => (
            &["pack", "ship", "location", "location", "deliver"],
            "delivered",
        ),
        1 => (&["pack", "cancel"], "cancelled"),
        2 => (&["pack", "ship", "location"], "shipped"),
        _ => (&[], "placed"),
    }
}

/// The estimated delivery date sent when shipping order `i` (none for every third order).
fn eta(i: usize) -> Value {
    if i.is_multiple_of(3) {
        Value::Null
    } else {
        json!(format!("2026-12-{:02}", i % 28 + 1))
    }
}

fn step_body(step: &str, i: usize) -> Value {
    match step {
        "pack" => json!({"warehouse": "AMS-1"}),
        "ship" => {
            json!({"carrier": "DHL", "tracking_number": format!("TN{i}"), "estimated_delivery": eta(i)})
        }
        "location" => json!({"location": format!("hub {i}")}),
        "cancel" => json!({"reason": "customer request"}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn orders_moved_over_the_command_api_read_back_exactly_over_the_query_api() {
    let stack = Stack::start().await;
    let mut placed = Vec::new();
    for i in 0..24 {
        placed.push(given_order_moved_through_its_lifecycle(&stack, i).await);
    }

    for order in &placed {
        then_it_reads_back_exactly(&stack, order).await;
    }
    let stats = stack.query("/stats/orders").await;
    assert_eq!(stats["total_orders"], 24);
    let revenue: Decimal = placed.iter().map(|o| o.total).sum();
    assert_eq!(stats["total_revenue"], revenue.to_string());
    for status in ["placed", "shipped", "delivered", "cancelled"] {
        assert_eq!(stats["by_status"][status], 6, "{status}");
    }
    assert_eq!(stats["by_status"]["packed"], 0);
    assert_eq!(top_products(&stack).await, quantities_by_product(&placed));
    let listed = stack.query("/orders?customer_id=cust-1&limit=200").await;
    assert_eq!(listed["orders"].as_array().unwrap().len(), 8);
    let hourly = stack.query("/stats/revenue/hourly").await;
    let counted: i64 = hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["order_count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 24);
}

/// Places order `i` and moves it through its [`lifecycle`] over the command API, reading
/// each write back right after its command.
async fn given_order_moved_through_its_lifecycle(stack: &Stack, i: usize) -> Placed {
    let (items, total, lines) = items(i);
    let customer = format!("cust-{}", i % 3);
    let body = json!({"customer_id": customer, "items": items, "shipping_address": "1 Main St"});
    let created = stack.command("/orders", &body).await;
    let id = created["order_id"].as_str().unwrap().to_owned();
    // Read your write right after the command.
    stack.read_own_write(&id, 1).await;
    let (steps, status) = lifecycle(i);
    let mut version = 1;
    for step in steps {
        let answer = stack
            .command(&format!("/orders/{id}/{step}"), &step_body(step, i))
            .await;
        version = answer["version"].as_u64().unwrap();
        let read = stack.read_own_write(&id, version).await;
        assert_eq!(read["status"], answer["status"], "{id} after {step}");
    }
    Placed {
        id,
        customer,
        total,
        version,
        status,
        steps: steps.to_vec(),
        index: i,
        lines,
    }
}

/// The order and its history, over the query API, as the command side left them.
async fn then_it_reads_back_exactly(stack: &Stack, order: &Placed) {
    let got = stack.query(&format!("/orders/{}", order.id)).await;
    assert_eq!(got["status"], order.status);
    assert_eq!(got["version"], order.version);
    assert_eq!(got["customer_id"], order.customer);
    assert_eq!(got["total_amount"], order.total.to_string());
    assert_eq!(got["currency"], "USD");
    let shipped = order.steps.contains(&"ship");
    assert_eq!(
        got["estimated_delivery"],
        if shipped {
            eta(order.index)
        } else {
            Value::Null
        }
    );
    let history = stack.query(&format!("/orders/{}/history", order.id)).await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len() as u64, order.version);
    assert_eq!(types[0], "OrderPlaced");
    assert_eq!(types.len(), 1 + order.steps.len());
}

/// The quantities of `/stats/products/top`, by product.
async fn top_products(stack: &Stack) -> HashMap<String, i64> {
    let top = stack.query("/stats/products/top?limit=100").await;
    top.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["product_id"].as_str().unwrap().to_owned(),
                p["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The quantities of `placed`, by product.
fn quantities_by_product(placed: &[Placed]) -> HashMap<String, i64> {
    let mut products: HashMap<String, i64> = HashMap::new();
    for (product, qty) in placed.iter().flat_map(|o| o.lines.iter()) {
        *products.entry(product.clone()).or_default() += qty;
    }
    products
}
