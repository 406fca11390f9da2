//! What a log of events becomes in Postgres and Redis.

use crate::helpers::{
    Stack, analytics, cancelled, event, order_id, packed, placed, shipped, spawn_projector,
};
use orderflow_domain::{Event, EventKind};
use serde_json::json;

#[tokio::test]
async fn a_lifecycle_of_several_orders_projects_into_exactly_the_expected_read_model() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (a, b, c) = (order_id(), order_id(), order_id());
    stack
        .append(&delivered_cancelled_and_packed(&a, &b, &c))
        .await;
    stack.wait_projected().await;

    then_a_delivered_order_has_its_lines_and_whole_history(&stack, &a).await;
    assert_eq!(
        stack.statuses().await,
        [
            (a.clone(), "delivered".into(), 5),
            (b.clone(), "cancelled".into(), 2),
            (c.clone(), "packed".into(), 2)
        ]
    );
    assert_eq!(stack.history_count().await, 9);
    assert_eq!(
        analytics(&stack.db).await,
        [
            "hour 2026-01-01 10 2 83.47",
            "hour 2026-01-01 11 1 3.00",
            "product sku-1 3 77.97",
            "product sku-2 1 5.50",
            "product sku-3 3 3.00",
            "status cancelled 1",
            "status delivered 1",
            "status packed 1",
        ]
    );
    then_a_delivered_order_is_cached_whole(&stack, &a).await;
    assert_eq!(stack.cached(&b).await.unwrap()["status"], "cancelled");
    let status = projector.status().await;
    assert_eq!(status["ready"], true);
    assert_eq!(status["applied"], 9);
    projector.shutdown().await;
}

/// `a` placed with two lines and delivered, `b` placed and cancelled, `c` placed an hour
/// later and packed: nine events, interleaved.
fn delivered_cancelled_and_packed(a: &str, b: &str, c: &str) -> Vec<Event> {
    let located = EventKind::LocationUpdated {
        location: "Utrecht hub".into(),
    };
    vec![
        event(
            a,
            1,
            0,
            placed(&[("sku-1", 2, "25.99"), ("sku-2", 1, "5.5")]),
        ),
        event(b, 1, 5, placed(&[("sku-1", 1, "25.99")])),
        event(c, 1, 70, placed(&[("sku-3", 3, "1.00")])),
        event(a, 2, 10, packed()),
        event(b, 2, 11, cancelled()),
        event(a, 3, 20, shipped()),
        event(a, 4, 30, located),
        event(a, 5, 40, EventKind::Delivered),
        event(c, 2, 71, packed()),
    ]
}

/// Order `a` of [`delivered_cancelled_and_packed`] in the tables: its row, its lines and
/// its history.
async fn then_a_delivered_order_has_its_lines_and_whole_history(stack: &Stack, a: &str) {
    type Row = (
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i32,
    );
    let row: Row = sqlx::query_as(
        "SELECT status, version, total_amount::text, warehouse, tracking_number, location,
                    items_count
             FROM orders WHERE order_id = $1",
    )
    .bind(a)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "delivered".into(),
            5,
            "57.48".into(),
            Some("AMS-1".into()),
            Some("JD0123".into()),
            Some("Utrecht hub".into()),
            2
        )
    );
    let items: Vec<(i32, String, i32, String)> = sqlx::query_as(
        "SELECT line_no, product_id, quantity, unit_price::text FROM order_items
         WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(a)
    .fetch_all(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        items,
        [
            (1, "sku-1".into(), 2, "25.99".into()),
            (2, "sku-2".into(), 1, "5.50".into())
        ]
    );
    assert_eq!(
        history_types(stack, a).await,
        [
            "OrderPlaced",
            "OrderPacked",
            "OrderShipped",
            "OrderLocationUpdated",
            "OrderDelivered"
        ]
    );
}

/// The event types of order `id`'s history, by version.
async fn history_types(stack: &Stack, id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM order_history WHERE order_id = $1 ORDER BY version")
        .bind(id)
        .fetch_all(&stack.db)
        .await
        .unwrap()
}

/// Order `a` of [`delivered_cancelled_and_packed`] in Redis: the whole document.
async fn then_a_delivered_order_is_cached_whole(stack: &Stack, a: &str) {
    let cached = stack.cached(a).await.expect("order a is cached");
    assert_eq!(cached["version"], 5);
    assert_eq!(cached["status"], "delivered");
    assert_eq!(cached["total_amount"], "57.48");
    assert_eq!(cached["location"], "Utrecht hub");
    assert_eq!(
        cached["items"][1],
        json!({"line_no": 2, "product_id": "sku-2", "quantity": 1, "unit_price": "5.50"})
    );
    assert_eq!(cached["placed_at"], "2026-01-01T10:00:00.000Z");
}

#[tokio::test]
async fn duplicate_and_conflicting_appends_are_ignored_and_counted() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let a = order_id();
    stack
        .append(&[
            event(&a, 1, 0, placed(&[("sku-1", 1, "10")])),
            event(&a, 2, 1, packed()),
            // Another writer's append for a version already taken, and a plain duplicate.
            event(&a, 2, 2, cancelled()),
            event(&a, 1, 0, placed(&[("sku-1", 1, "10")])),
            // A version from the future: not the next one, so ignored as well.
            event(&a, 7, 3, shipped()),
        ])
        .await;
    stack.wait_projected().await;
    assert_eq!(stack.status_and_version_of(&a).await, ("packed".into(), 2));
    assert_eq!(stack.history_count().await, 2);
    assert_eq!(
        analytics(&stack.db).await,
        [
            "hour 2026-01-01 10 1 10.00",
            "product sku-1 1 10.00",
            "status packed 1"
        ]
    );
    let status = projector.status().await;
    assert_eq!(
        (status["applied"].as_u64(), status["ignored"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(status["dead_lettered"], 0);
    assert_eq!(stack.cached(&a).await.unwrap()["version"], 2);
    projector.shutdown().await;
}
