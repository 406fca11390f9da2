//! Seeding a backlog: complete order lifecycles (place, pack, ship, two location updates,
//! deliver), encoded through the registry and produced with many records in flight.

use anyhow::Context;
use orderflow_domain::{
    Date, Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp,
};
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic, partition_for_key};
use orderflow_schemas::{EventCodec, RegistrySettings};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Events of one lifecycle.
pub const LIFECYCLE: usize = 6;
/// Records awaited together: enough to keep the producer's batches full.
const IN_FLIGHT: usize = 20_000;
/// 2026-01-01T00:00:00Z in epoch milliseconds.
const T0: i64 = 1_767_225_600_000;

/// What to seed, and where.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Events to append (rounded up to whole lifecycles of six events).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Partitions of the topic if it has to be created.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Only place orders (one event per order) instead of whole lifecycles.
    #[arg(long)]
    pub placed_only: bool,
}

/// Encoded records ready to produce: key (the order id) and Confluent-framed value.
#[derive(Debug, Default)]
pub struct Backlog {
    pub records: Vec<(String, Vec<u8>)>,
    pub orders: usize,
}

/// What a seed did: encoding and producing timed apart, so the produce time is the raw
/// rate of an rdkafka producer for these records.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub events: usize,
    pub orders: usize,
    pub encoding: Duration,
    pub producing: Duration,
}

/// Appends `args.events` events to `topic` as new orders (whole lifecycles, or only
/// placements with `args.placed_only`), creating the topic if it is missing.
pub async fn seed(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    topic: &str,
    args: &SeedArgs,
) -> anyhow::Result<Seeded> {
    let log = LogSettings {
        partitions: args.partitions,
        ..LogSettings::new(topic)
    };
    ensure_topic(kafka, &log)
        .await
        .context("creating the topic")?;
    let codec = EventCodec::new(registry, topic).context("registry client")?;
    codec
        .register_all()
        .await
        .context("registering the schemas")?;
    let started = Instant::now();
    let backlog = encode_backlog(&codec, args.events, args.placed_only).await?;
    let encoding = started.elapsed();
    let producing = produce(kafka, topic, &backlog.records).await?;
    Ok(Seeded {
        events: backlog.records.len(),
        orders: backlog.orders,
        encoding,
        producing,
    })
}

/// Encodes `events` events of new orders through the registry.
pub async fn encode_backlog(
    codec: &EventCodec,
    events: usize,
    placed_only: bool,
) -> anyhow::Result<Backlog> {
    let per_order = if placed_only { 1 } else { LIFECYCLE };
    let orders = events.div_ceil(per_order);
    let mut records = Vec::with_capacity(orders * per_order);
    for n in 0..orders {
        for event in lifecycle(n).into_iter().take(per_order) {
            let value = codec.encode(&event).await.context("encoding")?;
            records.push((event.order_id, value));
        }
    }
    Ok(Backlog { records, orders })
}

/// Produces `records` to `topic` (partitioned by key like the services do), many in
/// flight, and returns how long the broker took to acknowledge them all.
pub async fn produce(
    kafka: &KafkaSettings,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> anyhow::Result<Duration> {
    let producer: FutureProducer = kafka
        .client_config(&[
            ("enable.idempotence", "true"),
            ("linger.ms", "20"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "200000"),
        ])
        .create()
        .context("creating the producer")?;
    let partitions = partition_count(kafka, topic).await?;
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(records.len() as u64);
    for chunk in records.chunks(IN_FLIGHT) {
        send_all(&producer, topic, partitions, chunk).await?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(started.elapsed())
}

async fn send_all(
    producer: &FutureProducer,
    topic: &str,
    partitions: i32,
    records: &[(String, Vec<u8>)],
) -> anyhow::Result<()> {
    let sends = records.iter().map(|(key, value)| {
        let record = FutureRecord::to(topic)
            .key(key.as_bytes())
            .payload(value.as_slice())
            .partition(partition_for_key(key.as_bytes(), partitions));
        producer.send(record, Duration::from_secs(60))
    });
    for delivery in futures::future::join_all(sends).await {
        delivery.map_err(|(e, _)| e).context("producing")?;
    }
    Ok(())
}

/// Partitions of `topic`, from the broker's metadata.
pub async fn partition_count(kafka: &KafkaSettings, topic: &str) -> anyhow::Result<i32> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = kafka.client_config(&[]).create()?;
    let topic = topic.to_owned();
    let metadata = tokio::task::spawn_blocking(move || {
        consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))
    })
    .await??;
    let count = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len());
    anyhow::ensure!(count > 0, "the topic has no partitions");
    Ok(count as i32)
}

/// The six events of the `n`-th seeded order, a minute apart.
pub fn lifecycle(n: usize) -> Vec<Event> {
    let id = Uuid::new_v4().to_string();
    let at = T0 + (n as i64 % 100_000) * 60_000;
    let kinds = [
        placed(n),
        EventKind::Packed {
            warehouse: format!("WH-{}", n % 5),
        },
        EventKind::Shipped {
            carrier: "DHL".into(),
            tracking_number: format!("TRK{n:09}"),
            estimated_delivery: Some(Date(20_500 + (n % 30) as i32)),
        },
        EventKind::LocationUpdated {
            location: format!("hub {}", n % 17),
        },
        EventKind::LocationUpdated {
            location: format!("depot {}", n % 23),
        },
        EventKind::Delivered,
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(v, kind)| Event {
            order_id: id.clone(),
            version: v as u64 + 1,
            meta: EventMeta {
                event_id: Uuid::new_v4(),
                occurred_at: Timestamp(at + v as i64 * 60_000),
                idempotency_key: None,
                correlation_id: None,
            },
            kind,
        })
        .collect()
}

fn placed(n: usize) -> EventKind {
    let items: Vec<LineItem> = (0..1 + n % 3)
        .map(|l| LineItem {
            product_id: format!("sku-{}", (n + l * 7) % 50),
            quantity: 1 + (l as u32 % 3),
            unit_price: Decimal::new(199 + ((n + l) % 40) as i64 * 100, 2),
        })
        .collect();
    let total_amount = items
        .iter()
        .map(|i| i.unit_price * Decimal::from(i.quantity))
        .sum();
    EventKind::Placed(OrderPlaced {
        customer_id: format!("cust-{}", n % 1000),
        items,
        shipping_address: format!("{} Main St", n % 500),
        currency: "EUR".into(),
        total_amount,
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_domain::{FoldOutcome, Order, fold};

    #[test]
    fn a_seeded_lifecycle_is_accepted_event_by_event() {
        let events = lifecycle(7);
        assert_eq!(events.len(), LIFECYCLE);
        let mut order = Order::new(events[0].order_id.clone());
        for e in &events {
            let folded = fold(order, e);
            assert_eq!(folded.outcome, FoldOutcome::Accepted, "{:?}", e.kind);
            order = folded.order;
        }
        assert_eq!(order.version, LIFECYCLE as u64);
    }

    #[test]
    fn seeded_orders_are_distinct_and_their_totals_have_two_places() {
        let a = lifecycle(1);
        let b = lifecycle(1);
        assert_ne!(a[0].order_id, b[0].order_id);
        let EventKind::Placed(placed) = &a[0].kind else {
            panic!("the first event places the order")
        };
        assert_eq!(placed.total_amount.scale(), 2);
        assert!(placed.total_amount > Decimal::ZERO);
    }
}
