//! Poison records and a missing Redis: the projection goes on.

use crate::helpers::{Stack, event, order_id, packed, placed, read_topic, spawn_projector};
use orderflow_domain::EventKind;

#[tokio::test]
async fn poison_records_land_in_the_dlq_with_their_origin_and_the_projection_goes_on() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (a, b) = (order_id(), order_id());
    let (garbage_partition, garbage_offset) = stack.produce(b"not-an-order", b"\x00garbage").await;
    stack
        .append(&[
            event(&a, 1, 0, placed(&[("sku-1", 1, "10")])),
            // Skips the lifecycle: delivered without being shipped.
            event(&a, 2, 1, EventKind::Delivered),
            event(&b, 1, 2, placed(&[("sku-2", 1, "4")])),
            event(&b, 2, 3, packed()),
        ])
        .await;
    stack.wait_projected().await;

    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT order_id, status, version FROM orders ORDER BY placed_at")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (a.clone(), "placed".into(), 1),
            (b.clone(), "packed".into(), 2)
        ]
    );

    let mut dlq = read_topic(&format!("{}.dlq", stack.topic)).await;
    dlq.sort_by_key(|r| r.key.clone());
    assert_eq!(dlq.len(), 2, "{dlq:?}");
    let garbage = dlq
        .iter()
        .find(|r| r.key.as_deref() == Some(b"not-an-order"))
        .expect("the garbage record is dead-lettered");
    assert_eq!(garbage.value.as_deref(), Some(&b"\x00garbage"[..]));
    assert_eq!(garbage.headers["source.topic"], stack.topic);
    assert_eq!(
        garbage.headers["source.partition"],
        garbage_partition.to_string()
    );
    assert_eq!(garbage.headers["source.offset"], garbage_offset.to_string());
    assert!(!garbage.headers["error"].is_empty());
    let skipped = dlq
        .iter()
        .find(|r| r.key.as_deref() == Some(a.as_bytes()))
        .expect("the delivery that skipped the lifecycle is dead-lettered");
    assert!(
        skipped.headers["error"].contains("OrderDelivered"),
        "{:?}",
        skipped.headers
    );
    let decoded = stack
        .codec
        .decode(skipped.value.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (decoded.order_id.as_str(), decoded.version),
        (a.as_str(), 2)
    );

    assert_eq!(projector.status().await["dead_lettered"], 2);
    projector.shutdown().await;
}

#[tokio::test]
async fn redis_being_down_does_not_stop_the_postgres_projection() {
    let mut stack = Stack::start().await;
    let mut settings = stack.settings();
    // Nothing listens on port 1.
    settings.redis_url = "redis://127.0.0.1:1".into();
    let projector = spawn_projector(settings).await;
    let orders: Vec<String> = (0..20).map(|_| order_id()).collect();
    for (i, id) in orders.iter().enumerate() {
        stack
            .append(&[event(id, 1, i as i64, placed(&[("sku-1", 1, "1")]))])
            .await;
    }
    let started = std::time::Instant::now();
    stack.wait_projected().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(count, 20);
    let status = projector.status().await;
    assert_eq!(status["ready"], true, "{status}");
    assert!(status["cache_failed"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["cache_written"], 0);
    projector.shutdown().await;
}
