//! Events and analytics for the tests: builders of domain events at fixed times, and the
//! analytics tables as comparable lines.

use orderflow_domain::{Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp};
use sqlx::PgPool;
use uuid::Uuid;

/// 2026-01-01T10:00:00Z in epoch milliseconds.
pub const T0: i64 = 1_767_261_600_000;

/// An event of `order` at `version`, `minutes` after T0.
pub fn event(order: &str, version: u64, minutes: i64, kind: EventKind) -> Event {
    Event {
        order_id: order.into(),
        version,
        meta: EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(T0 + minutes * 60_000),
            idempotency_key: None,
            correlation_id: None,
        },
        kind,
    }
}

/// An `OrderPlaced` of `items` (`product`, quantity, unit price).
pub fn placed(items: &[(&str, u32, &str)]) -> EventKind {
    let items: Vec<LineItem> = items
        .iter()
        .map(|(p, q, price)| LineItem {
            product_id: (*p).into(),
            quantity: *q,
            unit_price: price.parse().unwrap(),
        })
        .collect();
    placed_by("cust-1".into(), items, "1 Main St".into())
}

/// An `OrderPlaced` in USD of `customer_id`'s `items`, its total what they add up to.
pub fn placed_by(customer_id: String, items: Vec<LineItem>, shipping_address: String) -> EventKind {
    let total_amount = items
        .iter()
        .map(|i| i.unit_price * Decimal::from(i.quantity))
        .sum();
    EventKind::Placed(OrderPlaced {
        customer_id,
        items,
        shipping_address,
        currency: "USD".into(),
        total_amount,
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    })
}

pub fn packed() -> EventKind {
    EventKind::Packed {
        warehouse: "AMS-1".into(),
    }
}

pub fn shipped() -> EventKind {
    EventKind::Shipped {
        carrier: "DHL".into(),
        tracking_number: "JD0123".into(),
        estimated_delivery: Some(orderflow_domain::Date(20_800)),
    }
}

pub fn cancelled() -> EventKind {
    EventKind::Cancelled {
        reason: "customer request".into(),
    }
}

/// A unique order id.
pub fn order_id() -> String {
    Uuid::new_v4().to_string()
}

/// `per` new order ids for each of the test topic's partitions, by partition.
pub fn order_ids_in_each_partition(per: usize) -> Vec<Vec<String>> {
    let partitions = crate::helpers::PARTITIONS;
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); partitions as usize];
    while ids.iter().any(|of_partition| of_partition.len() < per) {
        let id = order_id();
        let partition = orderflow_platform::partition_for_key(id.as_bytes(), partitions);
        if ids[partition as usize].len() < per {
            ids[partition as usize].push(id);
        }
    }
    ids
}

/// Analytics as comparable text: hourly, per status, per product.
pub async fn analytics(db: &PgPool) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT 'hour ' || to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24') || ' ' || order_count || ' ' || revenue FROM stats_hourly
         UNION ALL SELECT 'status ' || status || ' ' || order_count FROM stats_status WHERE order_count <> 0
         UNION ALL SELECT 'product ' || product_id || ' ' || quantity || ' ' || revenue FROM stats_products
         ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}
