//! `GET /orders/{id}` through the cache, without Redis, and its history.

use crate::helpers::*;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_miss_reads_postgres_and_fills_the_cache_then_hits() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;

    let first = app.get("/orders/o-1").await;
    assert_eq!(first.headers()["x-cache"], "miss");
    assert_eq!(first.headers()["etag"], "\"1\"");
    let body = expect_json(first, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({
            "order_id": "o-1", "customer_id": "cust-1", "status": "placed",
            "items": [
                {"line_no": 1, "product_id": "sku-1", "quantity": 2, "unit_price": "25.99"},
                {"line_no": 2, "product_id": "sku-2", "quantity": 1, "unit_price": "5.50"}
            ],
            "total_amount": "57.48", "shipping_address": "1 Main St",
            "warehouse": null, "carrier": null, "tracking_number": null, "estimated_delivery": null, "currency": "USD", "location": null,
            "cancel_reason": null, "reject_reason": null, "version": 1,
            "placed_at": "2026-01-10T12:00:00.000Z", "updated_at": "2026-01-10T12:01:00.000Z"
        })
    );

    let mut redis = app.redis().await;
    let cached: String = redis.get(format!("{}order:o-1", app.prefix)).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&cached).unwrap(), body);
    let ttl: i64 = redis.ttl(format!("{}order:o-1", app.prefix)).await.unwrap();
    assert!(ttl > 80_000, "ttl {ttl}");

    let second = app.get("/orders/o-1").await;
    assert_eq!(second.headers()["x-cache"], "hit");
    assert_eq!(expect_json(second, StatusCode::OK).await, body);
}

#[tokio::test]
async fn min_version_bypasses_an_older_cached_version_and_replaces_it() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let key = format!("{}order:o-1", app.prefix);
    let mut redis = app.redis().await;
    let older = json!({"order_id": "o-1", "version": 0}).to_string();
    let _: () = redis.set(&key, &older).await.unwrap();

    // Without min_version, whatever the cache holds is the answer.
    assert_eq!(app.get("/orders/o-1").await.headers()["x-cache"], "hit");
    // With it, the older document is skipped and the guarded fill replaces it.
    let response = app.get("/orders/o-1?min_version=1").await;
    assert_eq!(response.headers()["x-cache"], "miss");
    let cached: String = redis.get(&key).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&cached).unwrap()["version"],
        1
    );
    assert_eq!(
        app.get("/orders/o-1?min_version=1").await.headers()["x-cache"],
        "hit"
    );
}

#[tokio::test]
async fn without_redis_orders_come_from_postgres() {
    let app = spawn_with_redis("redis://127.0.0.1:1").await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    for _ in 0..2 {
        let response = app.get("/orders/o-1").await;
        assert_eq!(response.headers()["x-cache"], "miss");
        let body = expect_json(response, StatusCode::OK).await;
        assert_eq!(body["total_amount"], "57.48");
    }
    let ready = expect_json(app.get("/readyz").await, StatusCode::OK).await;
    assert_eq!(ready["redis"], "down");
}

#[tokio::test]
async fn unknown_orders_are_404_problems() {
    let app = spawn_app().await;
    let body = expect_json(app.get("/orders/nope").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body["type"], "/problems/order-not-found");
    assert!(body["detail"].as_str().unwrap().contains("nope"));
    expect_json(app.get("/orders/nope/history").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn history_is_in_version_order() {
    let app = spawn_app().await;
    let mut order = Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z");
    order.status = "packed";
    order.version = 3;
    insert(&app.db, &order).await;
    let body = expect_json(app.get("/orders/o-1/history").await, StatusCode::OK).await;
    assert_eq!(body["order_id"], "o-1");
    let events = body["events"].as_array().unwrap();
    let versions: Vec<_> = events
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(events[0]["type"], "OrderPlaced");
    assert_eq!(events[0]["occurred_at"], "2026-01-10T12:00:00.000Z");
    assert_eq!(events[2]["data"], json!({"n": 3}));
}

#[tokio::test]
async fn history_is_served_a_page_at_a_time() {
    let app = spawn_app().await;
    let mut order = Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z");
    order.version = 5;
    insert(&app.db, &order).await;
    let versions = |page: &Value| -> Vec<i64> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["version"].as_i64().unwrap())
            .collect()
    };

    let first = expect_json(app.get("/orders/o-1/history?limit=2").await, StatusCode::OK).await;
    assert_eq!(versions(&first), [1, 2]);
    assert_eq!(first["next_after_version"], 2);
    let second = app.get("/orders/o-1/history?limit=2&after_version=2").await;
    let second = expect_json(second, StatusCode::OK).await;
    assert_eq!(versions(&second), [3, 4]);
    let last = app.get("/orders/o-1/history?limit=2&after_version=4").await;
    let last = expect_json(last, StatusCode::OK).await;
    assert_eq!(versions(&last), [5]);
    assert_eq!(last["next_after_version"], Value::Null);

    let too_big = app.get("/orders/o-1/history?limit=1001").await;
    expect_json(too_big, StatusCode::UNPROCESSABLE_ENTITY).await;
}
