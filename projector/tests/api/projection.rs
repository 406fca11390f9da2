//! What a log of events becomes in Postgres and Redis.

use crate::helpers::{
    Stack, analytics, cancelled, event, order_id, packed, placed, shipped, spawn_projector,
};
use orderflow_domain::EventKind;
use serde_json::json;

#[tokio::test]
async fn a_lifecycle_of_several_orders_projects_into_exactly_the_expected_read_model() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (a, b, c) = (order_id(), order_id(), order_id());
    stack
        .append(&[
            event(
                &a,
                1,
                0,
                placed(&[("sku-1", 2, "25.99"), ("sku-2", 1, "5.5")]),
            ),
            event(&b, 1, 5, placed(&[("sku-1", 1, "25.99")])),
            event(&c, 1, 70, placed(&[("sku-3", 3, "1.00")])),
            event(&a, 2, 10, packed()),
            event(&b, 2, 11, cancelled()),
            event(&a, 3, 20, shipped()),
            event(
                &a,
                4,
                30,
                EventKind::LocationUpdated {
                    location: "Utrecht hub".into(),
                },
            ),
            event(&a, 5, 40, EventKind::Delivered),
            event(&c, 2, 71, packed()),
        ])
        .await;
    stack.wait_projected().await;

    let row: (
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i32,
    ) = sqlx::query_as(
        "SELECT status, version, total_amount::text, warehouse, tracking_number, location,
                    items_count
             FROM orders WHERE order_id = $1",
    )
    .bind(&a)
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
    let statuses: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT order_id, status, version FROM orders ORDER BY placed_at")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [
            (a.clone(), "delivered".into(), 5),
            (b.clone(), "cancelled".into(), 2),
            (c.clone(), "packed".into(), 2)
        ]
    );
    let items: Vec<(i32, String, i32, String)> = sqlx::query_as(
        "SELECT line_no, product_id, quantity, unit_price::text FROM order_items
         WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(&a)
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
    let history: Vec<(i64, String)> = sqlx::query_as(
        "SELECT version, event_type FROM order_history WHERE order_id = $1 ORDER BY version",
    )
    .bind(&a)
    .fetch_all(&stack.db)
    .await
    .unwrap();
    let types: Vec<&str> = history.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderPacked",
            "OrderShipped",
            "OrderLocationUpdated",
            "OrderDelivered"
        ]
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM order_history")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(total, 9);

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

    let cached = stack.cached(&a).await.expect("order a is cached");
    assert_eq!(cached["version"], 5);
    assert_eq!(cached["status"], "delivered");
    assert_eq!(cached["total_amount"], "57.48");
    assert_eq!(cached["location"], "Utrecht hub");
    assert_eq!(
        cached["items"][1],
        json!({"line_no": 2, "product_id": "sku-2", "quantity": 1, "unit_price": "5.50"})
    );
    assert_eq!(cached["placed_at"], "2026-01-01T10:00:00.000Z");
    assert_eq!(stack.cached(&b).await.unwrap()["status"], "cancelled");
    let status = projector.status().await;
    assert_eq!(status["ready"], true);
    assert_eq!(status["applied"], 9);
    projector.shutdown().await;
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
    let row: (String, i64) =
        sqlx::query_as("SELECT status, version FROM orders WHERE order_id = $1")
            .bind(&a)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(row, ("packed".into(), 2));
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM order_history")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(history, 2);
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
