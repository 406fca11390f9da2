//! A large backlog for the crash tests: thousands of orders in every lifecycle, with
//! duplicates and conflicting appends, produced in big producer batches.

use crate::helpers::{PARTITIONS, Stack, brokers, event, order_id, placed_by};
use orderflow_domain::{Event, EventKind, LineItem};
use orderflow_platform::{KafkaSettings, partition_for_key};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// The events of `orders` new orders (see [`backlog`]), produced before any projector runs.
pub(crate) async fn given_a_backlog(stack: &Stack, orders: usize) -> Vec<Event> {
    let ids: Vec<String> = (0..orders).map(|_| order_id()).collect();
    let events = backlog(&ids);
    produce_batched(stack, &events).await;
    events
}

/// The events of `ids`, interleaved in rounds (the n-th event of every order, then the
/// n+1-th, ...) so batches mix orders and an order's events span batches. Lifecycles mix
/// delivered, cancelled, shipped and placed orders; some orders also get duplicates and
/// conflicting appends that the fold must ignore.
fn backlog(ids: &[String]) -> Vec<Event> {
    let mut rounds: Vec<Vec<Event>> = Vec::new();
    let mut push = |round: usize, e: Event| {
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push(e);
    };
    for (i, id) in ids.iter().enumerate() {
        let minutes = (i % 600) as i64;
        let lifecycle: Vec<EventKind> = match i % 5 {
            0 => vec![
                placement(i),
                packing(i),
                shipping(i),
                locating(i, 0),
                EventKind::Delivered,
            ],
            1 => vec![
                placement(i),
                packing(i),
                shipping(i),
                locating(i, 0),
                locating(i, 1),
                EventKind::Delivered,
            ],
            2 => vec![placement(i), packing(i), cancelling(i)],
            3 => vec![placement(i), packing(i), shipping(i)],
            _ if i % 10 == 4 => vec![placement(i)],
            _ => vec![placement(i), cancelling(i)],
        };
        let mut produced = Vec::new();
        for (n, kind) in lifecycle.into_iter().enumerate() {
            let e = event(id, n as u64 + 1, minutes + 7 * n as i64, kind);
            produced.push(e.clone());
            push(n, e);
        }
        // Duplicates (the very same event again) and conflicting appends (another event
        // for a version already taken, or a version with a gap): all ignored.
        if i % 97 == 0 && produced.len() > 1 {
            push(3, produced[1].clone());
            push(6, produced[0].clone());
        }
        if i % 89 == 0 {
            let conflict = event(id, 2, minutes + 1, cancelling(i + 1));
            push(2, conflict);
        }
        if i % 83 == 0 {
            push(1, event(id, 9, minutes + 2, EventKind::Delivered));
        }
    }
    rounds.into_iter().flatten().collect()
}

fn placement(i: usize) -> EventKind {
    const PRICES: [&str; 4] = ["2.50", "10.00", "3.99", "125.75"];
    let lines = 1 + i % 3;
    let items: Vec<LineItem> = (0..lines)
        .map(|l| LineItem {
            product_id: format!("sku-{}", (i + l * 3) % 11),
            quantity: 1 + ((i + l) % 4) as u32,
            unit_price: PRICES[(i + l) % PRICES.len()].parse().unwrap(),
        })
        .collect();
    placed_by(
        format!("cust-{}", i % 37),
        items,
        format!("{} Main St", i % 101),
    )
}

fn packing(i: usize) -> EventKind {
    EventKind::Packed {
        warehouse: format!("AMS-{}", i % 3),
    }
}

fn shipping(i: usize) -> EventKind {
    EventKind::Shipped {
        carrier: ["DHL", "UPS", "PostNL"][i % 3].into(),
        tracking_number: format!("TRK{i:06}"),
        estimated_delivery: i
            .is_multiple_of(2)
            .then_some(orderflow_domain::Date(20_800 + i as i32 % 30)),
    }
}

fn locating(i: usize, n: usize) -> EventKind {
    EventKind::LocationUpdated {
        location: format!("hub-{}-{n}", i % 13),
    }
}

fn cancelling(i: usize) -> EventKind {
    EventKind::Cancelled {
        reason: format!("reason {}", i % 5),
    }
}

/// Appends `events` in order, keyed and partitioned by order id, in producer batches of
/// many records, as the command service writes them: a restart then resumes in the middle
/// of a batch.
async fn produce_batched(stack: &Stack, events: &[Event]) {
    let producer: FutureProducer = KafkaSettings::new(brokers())
        .client_config(&[("enable.idempotence", "true"), ("linger.ms", "5")])
        .create()
        .unwrap();
    let mut encoded = Vec::with_capacity(events.len());
    for event in events {
        encoded.push((&event.order_id, stack.codec.encode(event).await.unwrap()));
    }
    let sends = encoded.iter().map(|(key, value)| {
        let record = FutureRecord::to(&stack.topic)
            .key(key.as_bytes())
            .payload(value.as_slice())
            .partition(partition_for_key(key.as_bytes(), PARTITIONS));
        producer.send(record, Duration::from_secs(60))
    });
    for delivery in futures::future::join_all(sends).await {
        delivery.map_err(|(e, _)| e).unwrap();
    }
}
