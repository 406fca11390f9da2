//! The read model's contract between its two sides, without Kafka: orders folded and
//! written by the projector's own code (its fold, its batch statements, its Redis writer)
//! are served by the query API from Postgres exactly as the projector caches them, and
//! their history as the projector wrote it.

use crate::helpers::*;
use orderflow_domain::{
    Date, Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp,
};
use orderflow_projector::tools::generations::{Generation, GenerationState};
use orderflow_projector::{BatchPlan, Cache, DecodedRecord, Position, Role, Store, fold_batch};
use orderflow_read_model::{HistoryEvent, READ_SCHEMA, order_cache_key};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

/// 2026-01-10T12:00:00.123Z: milliseconds that a coarser format would lose.
const T0: i64 = 1_768_046_400_123;

#[tokio::test]
async fn a_miss_serves_the_document_the_projector_caches() {
    let app = spawn_app().await;
    let store = projector_store(&app);
    // Placed in one batch and moved along in the next: the insert and the update path.
    write_batch(
        &store,
        vec![
            placed("o-1", "USD", &[("sku-1", 2, "25.99"), ("sku-2", 1, "5.50")]),
            placed("o-2", "USD", &[("sku-1", 1, "25.99")]),
        ],
    )
    .await;
    let plan = write_batch(
        &store,
        vec![
            next("o-1", 2, packed()),
            next("o-1", 3, shipped()),
            next("o-1", 4, located()),
            next("o-2", 2, cancelled()),
            placed("o-3", "EUR", &[("sku-3", 3, "0.50")]),
            next("o-3", 2, packed()),
        ],
    )
    .await;
    // Under a prefix of its own, so the query API never reads it as a hit.
    let projector_prefix = format!("{}projector:", app.prefix);
    cache_through_projector(&projector_prefix, &plan).await;

    for order_id in ["o-1", "o-2", "o-3"] {
        let response = app.get(&format!("/orders/{order_id}")).await;
        assert_eq!(response.headers()["x-cache"], "miss", "{order_id}");
        let served = expect_json(response, StatusCode::OK).await;
        let cached = cached(&order_cache_key(&projector_prefix, order_id)).await;
        assert_eq!(
            served, cached,
            "{order_id}: served from Postgres ≠ cached by the projector"
        );
    }
}

#[tokio::test]
async fn history_is_served_as_the_projector_wrote_it() {
    let app = spawn_app().await;
    let store = projector_store(&app);
    let plan = write_batch(
        &store,
        vec![
            placed("o-1", "USD", &[("sku-1", 2, "25.99")]),
            next("o-1", 2, packed()),
            next("o-1", 3, shipped()),
        ],
    )
    .await;
    let body = expect_json(app.get("/orders/o-1/history").await, StatusCode::OK).await;
    let written: Vec<Value> = plan
        .history
        .iter()
        .map(|row| serde_json::to_value(HistoryEvent::from(row)).unwrap())
        .collect();
    assert_eq!(body["events"], Value::Array(written));
}

/// The projector's store over the test's reader schema (tables there, not views), as a
/// rebuild writes: no live pointer to check, nothing to announce.
fn projector_store(app: &TestApp) -> Store {
    let generation = Generation {
        id: 1,
        schema: READ_SCHEMA.into(),
        redis_prefix: app.prefix.clone(),
        state: GenerationState::Building,
    };
    Store::connect(
        &app.database_url,
        "orders.events",
        &generation,
        Role::Rebuild,
        1,
    )
    .unwrap()
}

/// Folds `events` over the stored orders and commits the result, as a batch loop does.
async fn write_batch(store: &Store, events: Vec<Event>) -> BatchPlan {
    let records: Vec<DecodedRecord> = events
        .into_iter()
        .enumerate()
        .map(|(offset, event)| DecodedRecord {
            position: Position {
                partition: 0,
                offset: offset as i64,
            },
            event,
        })
        .collect();
    let mut ids: Vec<String> = records.iter().map(|r| r.event.order_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut tx = store.begin().await.unwrap();
    let current = tx.load_orders(&ids).await.unwrap();
    let plan = fold_batch(current, &records);
    assert!(
        plan.rejected.is_empty() && plan.ignored.is_empty(),
        "{plan:?}"
    );
    tx.write(&plan, &[(0, records.len() as i64)], &[None])
        .await
        .unwrap();
    tx.write_stats(&plan).await.unwrap();
    tx.commit().await.unwrap();
    plan
}

/// Writes the plan's orders through to Redis under `prefix` with the projector's writer.
async fn cache_through_projector(prefix: &str, plan: &BatchPlan) {
    let (ttl, timeout) = (Duration::from_secs(60), Duration::from_secs(2));
    let mut cache = Cache::new(&redis_url(), prefix, ttl, timeout, Default::default()).unwrap();
    let views: Vec<_> = plan.orders.iter().map(|c| &c.view).collect();
    cache.write(&views).await;
    assert!(cache.is_clean(), "the projector's cache write failed");
}

/// The document stored at `key`.
async fn cached(key: &str) -> Value {
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let text: String = redis.get(key).await.unwrap();
    serde_json::from_str(&text).unwrap()
}

fn placed(order_id: &str, currency: &str, items: &[(&str, u32, &str)]) -> Event {
    let items: Vec<LineItem> = items
        .iter()
        .map(|(product, quantity, price)| LineItem {
            product_id: (*product).into(),
            quantity: *quantity,
            unit_price: price.parse().unwrap(),
        })
        .collect();
    let total_amount = items
        .iter()
        .map(|i| i.unit_price * Decimal::from(i.quantity))
        .sum();
    let placed = OrderPlaced {
        customer_id: "cust-1".into(),
        items,
        shipping_address: "1 Main St".into(),
        currency: currency.into(),
        total_amount,
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    };
    next(order_id, 1, EventKind::Placed(placed))
}

fn packed() -> EventKind {
    EventKind::Packed {
        warehouse: "AMS-1".into(),
    }
}

fn shipped() -> EventKind {
    EventKind::Shipped {
        carrier: "DHL".into(),
        tracking_number: "JD0123".into(),
        // 2026-12-01.
        estimated_delivery: Some(Date(20_788)),
    }
}

fn located() -> EventKind {
    EventKind::LocationUpdated {
        location: "Utrecht hub".into(),
    }
}

fn cancelled() -> EventKind {
    EventKind::Cancelled {
        reason: "customer request".into(),
    }
}

/// `order_id`'s event at `version`, `version` minutes after T0, with the metadata a
/// command leaves in it.
fn next(order_id: &str, version: u64, kind: EventKind) -> Event {
    Event {
        order_id: order_id.into(),
        version,
        meta: EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(T0 + version as i64 * 60_000),
            idempotency_key: Some(format!("key-{order_id}-{version}")),
            correlation_id: Some("corr-1".into()),
        },
        kind,
    }
}
