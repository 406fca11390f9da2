//! Given stored orders, when a batch of events is folded, then these rows change.

use crate::fold::model::{DecodedRecord, OrderView, Position};
use crate::fold::{BatchPlan, fold_batch};
use chrono::{TimeZone, Utc};
use orderflow_domain::{
    Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Status, Timestamp,
};
use std::collections::HashMap;
use uuid::Uuid;

/// 2026-01-01T10:15:00Z in epoch milliseconds.
const T0: i64 = 1_767_262_500_000;

fn money(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub(crate) fn placed(items: &[(&str, u32, &str)]) -> EventKind {
    let items: Vec<LineItem> = items
        .iter()
        .map(|(p, q, price)| LineItem {
            product_id: (*p).into(),
            quantity: *q,
            unit_price: money(price),
        })
        .collect();
    let total_amount = items
        .iter()
        .map(|i| i.unit_price * Decimal::from(i.quantity))
        .sum();
    EventKind::Placed(OrderPlaced {
        customer_id: "cust-1".into(),
        items,
        shipping_address: "1 Main St".into(),
        currency: "USD".into(),
        total_amount,
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    })
}

pub(crate) fn packed() -> EventKind {
    EventKind::Packed {
        warehouse: "AMS-1".into(),
    }
}

pub(crate) fn cancelled() -> EventKind {
    EventKind::Cancelled {
        reason: "changed mind".into(),
    }
}

/// The `n`-th record of the batch: `order`'s event at `version`, `minutes` after T0.
pub(crate) fn record(
    n: i64,
    order: &str,
    version: u64,
    minutes: i64,
    kind: EventKind,
) -> DecodedRecord {
    DecodedRecord {
        position: Position {
            partition: 0,
            offset: n,
        },
        event: Event {
            order_id: order.into(),
            version,
            meta: EventMeta {
                event_id: Uuid::from_u128(n as u128 + 1),
                occurred_at: Timestamp(T0 + minutes * 60_000),
                idempotency_key: None,
                correlation_id: None,
            },
            kind,
        },
    }
}

/// Stored orders before the batch.
struct Given(HashMap<String, OrderView>);

fn given_no_orders() -> Given {
    Given(HashMap::new())
}

/// The stored state after folding `history` from nothing.
fn given_folded(history: &[DecodedRecord]) -> Given {
    let plan = fold_batch(HashMap::new(), history);
    Given(
        plan.orders
            .into_iter()
            .map(|c| (c.view.order_id.clone(), c.view))
            .collect(),
    )
}

impl Given {
    fn when_folding(self, batch: &[DecodedRecord]) -> BatchPlan {
        fold_batch(self.0, batch)
    }
}

fn status_of(plan: &BatchPlan, order: &str) -> (Status, u64) {
    let view = &plan
        .orders
        .iter()
        .find(|c| c.view.order_id == order)
        .expect("the order changed")
        .view;
    (view.status, view.version)
}

#[test]
fn several_events_of_one_order_in_one_batch_chain_to_its_last_state() {
    let plan = given_no_orders().when_folding(&[
        record(0, "a", 1, 0, placed(&[("sku-1", 2, "25.99")])),
        record(1, "a", 2, 1, packed()),
    ]);
    assert_eq!(status_of(&plan, "a"), (Status::Packed, 2));
    assert_eq!(plan.orders.len(), 1);
    assert!(
        plan.orders[0].placed,
        "items are inserted with the placement"
    );
    assert_eq!(plan.orders[0].view.warehouse.as_deref(), Some("AMS-1"));
    assert_eq!(plan.orders[0].view.total_amount, money("51.98"));
    assert_eq!(plan.history.len(), 2);
    assert_eq!(plan.status, [(Status::Packed, 1)], "placed +1 -1 nets out");
}

#[test]
fn an_event_of_a_stored_order_continues_from_the_stored_version() {
    let placement = record(0, "a", 1, 0, placed(&[("sku-1", 1, "10")]));
    let plan = given_folded(&[placement]).when_folding(&[record(5, "a", 2, 3, cancelled())]);
    assert_eq!(status_of(&plan, "a"), (Status::Cancelled, 2));
    assert!(!plan.orders[0].placed, "no new items for an existing order");
    assert_eq!(
        plan.status,
        [(Status::Cancelled, 1), (Status::Placed, -1)],
        "sorted by status name"
    );
    assert!(plan.hourly.is_empty() && plan.products.is_empty());
}

#[test]
fn a_duplicate_and_a_conflicting_append_are_ignored_and_reported() {
    let plan = given_no_orders().when_folding(&[
        record(0, "a", 1, 0, placed(&[("sku-1", 1, "10")])),
        record(1, "a", 1, 0, placed(&[("sku-1", 1, "10")])),
        record(2, "a", 2, 1, packed()),
        record(3, "a", 2, 1, cancelled()),
    ]);
    assert_eq!(status_of(&plan, "a"), (Status::Packed, 2));
    let ignored: Vec<(i64, u64, u64)> = plan
        .ignored
        .iter()
        .map(|i| (i.position.offset, i.current, i.got))
        .collect();
    assert_eq!(ignored, [(1, 1, 1), (3, 2, 2)]);
    assert_eq!(plan.history.len(), 2);
    assert!(plan.rejected.is_empty());
}

#[test]
fn an_event_the_lifecycle_forbids_is_rejected_and_changes_nothing() {
    let plan = given_no_orders().when_folding(&[
        record(0, "a", 1, 0, placed(&[("sku-1", 1, "10")])),
        record(1, "a", 2, 1, EventKind::Delivered),
        record(2, "b", 1, 1, packed()),
    ]);
    assert_eq!(status_of(&plan, "a"), (Status::Placed, 1));
    let rejected: Vec<i64> = plan.rejected.iter().map(|r| r.position.offset).collect();
    assert_eq!(rejected, [1, 2]);
    assert!(plan.rejected[0].reason.contains("OrderDelivered"));
    assert!(plan.orders.iter().all(|c| c.view.order_id != "b"));
}

#[test]
fn hourly_windows_count_placements_in_the_hour_they_occurred() {
    let plan = given_no_orders().when_folding(&[
        record(0, "a", 1, 0, placed(&[("sku-1", 1, "10.50")])),
        record(1, "b", 1, 30, placed(&[("sku-1", 2, "1")])),
        record(2, "c", 1, 50, placed(&[("sku-2", 1, "4")])),
    ]);
    let windows: Vec<(String, i64, Decimal)> = plan
        .hourly
        .iter()
        .map(|w| (w.hour.to_rfc3339(), w.order_count, w.revenue))
        .collect();
    assert_eq!(
        windows,
        [
            (
                Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0)
                    .unwrap()
                    .to_rfc3339(),
                2,
                money("12.50")
            ),
            (
                Utc.with_ymd_and_hms(2026, 1, 1, 11, 0, 0)
                    .unwrap()
                    .to_rfc3339(),
                1,
                money("4")
            ),
        ]
    );
}

#[test]
fn a_cancellation_moves_the_status_count_but_keeps_placed_revenue() {
    let plan = given_no_orders().when_folding(&[
        record(
            0,
            "a",
            1,
            0,
            placed(&[("sku-1", 3, "2"), ("sku-2", 1, "5")]),
        ),
        record(1, "a", 2, 1, cancelled()),
    ]);
    assert_eq!(plan.status, [(Status::Cancelled, 1)]);
    assert_eq!(plan.hourly[0].revenue, money("11"));
    let products: Vec<(&str, i64, Decimal)> = plan
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), p.quantity, p.revenue))
        .collect();
    assert_eq!(
        products,
        [("sku-1", 3, money("6")), ("sku-2", 1, money("5"))]
    );
}

#[test]
fn a_location_update_keeps_the_status_count_and_records_history() {
    let history = [
        record(0, "a", 1, 0, placed(&[("sku-1", 1, "1")])),
        record(1, "a", 2, 1, packed()),
        record(
            2,
            "a",
            3,
            2,
            EventKind::Shipped {
                carrier: "DHL".into(),
                tracking_number: "JD1".into(),
                estimated_delivery: None,
            },
        ),
    ];
    let plan = given_folded(&history).when_folding(&[record(
        3,
        "a",
        4,
        3,
        EventKind::LocationUpdated {
            location: "Utrecht hub".into(),
        },
    )]);
    assert!(plan.status.is_empty());
    assert_eq!(status_of(&plan, "a"), (Status::Shipped, 4));
    assert_eq!(plan.orders[0].view.location.as_deref(), Some("Utrecht hub"));
    assert_eq!(plan.orders[0].view.carrier.as_deref(), Some("DHL"));
    assert_eq!(plan.history[0].event_type, "OrderLocationUpdated");
    assert_eq!(plan.history[0].data["location"], "Utrecht hub");
}
