//! Seeding a backlog: complete order lifecycles (place, pack, ship, two location updates,
//! deliver), encoded through the registry and produced with many records in flight.

use anyhow::Context;
use orderflow_domain::{
    Date, Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp,
};
use orderflow_platform::{KafkaSettings, create_topic_if_missing, partition_for_key};
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
}

/// What a seed did.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub events: usize,
    pub orders: usize,
    pub elapsed: Duration,
}

/// Appends `args.events` events to `topic` as lifecycles of new orders.
pub async fn seed(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    topic: &str,
    args: &SeedArgs,
) -> anyhow::Result<Seeded> {
    create_topic_if_missing(kafka, topic, args.partitions, 1)
        .await
        .context("creating the topic")?;
    let codec = EventCodec::new(registry, topic).context("registry client")?;
    codec
        .register_all()
        .await
        .context("registering the schemas")?;
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
    let orders = args.events.div_ceil(LIFECYCLE);
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new((orders * LIFECYCLE) as u64);
    let mut pending = Vec::with_capacity(IN_FLIGHT);
    for n in 0..orders {
        for event in lifecycle(n) {
            let value = codec.encode(&event).await.context("encoding")?;
            pending.push((event.order_id, value));
        }
        if pending.len() >= IN_FLIGHT || n + 1 == orders {
            send_all(&producer, topic, partitions, &pending).await?;
            bar.inc(pending.len() as u64);
            pending.clear();
        }
    }
    bar.finish_and_clear();
    Ok(Seeded {
        events: orders * LIFECYCLE,
        orders,
        elapsed: started.elapsed(),
    })
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

async fn partition_count(kafka: &KafkaSettings, topic: &str) -> anyhow::Result<i32> {
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
