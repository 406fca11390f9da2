//! Read-your-writes: `min_version` waits for the projector's notification.

use crate::helpers::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_version_committed_later_is_returned_once_announced() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    // Fill the cache with version 1, so the wait must not be answered from it.
    assert_eq!(app.get("/orders/o-1").await.headers()["x-cache"], "miss");

    let db = app.db.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        advance(&db, "o-1", 2).await;
    });
    let started = Instant::now();
    let response = app.get("/orders/o-1?min_version=2&wait_ms=5000").await;
    let waited = started.elapsed();
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(
        (body["version"].as_i64(), body["status"].as_str()),
        (Some(2), Some("packed"))
    );
    assert!(
        waited >= Duration::from_millis(350),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    writer.await.unwrap();

    // Now held: answered at once, and the cache was refreshed to version 2.
    let response = app.get("/orders/o-1?min_version=2").await;
    assert_eq!(response.headers()["x-cache"], "hit");
}

#[tokio::test]
async fn a_version_never_reached_is_a_409_with_the_current_version_and_a_retry_after() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let started = Instant::now();
    let response = app.get("/orders/o-1?min_version=3&wait_ms=300").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.headers()["retry-after"], "1");
    let body = expect_json(response, StatusCode::CONFLICT).await;
    assert_eq!(body["current_version"], 1);
    assert_eq!(body["min_version"], 3);

    let response = app.get("/orders/o-9?min_version=1&wait_ms=100").await;
    let body = expect_json(response, StatusCode::CONFLICT).await;
    assert!(body["current_version"].is_null());
}

#[tokio::test]
async fn waiting_on_another_customers_order_is_a_404_that_tells_nothing() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let stranger = app.issuer().customer("cust-2");
    let response = app
        .client
        .get(app.url("/orders/o-1?min_version=3&wait_ms=100"))
        .bearer_auth(stranger)
        .send()
        .await
        .unwrap();
    let body = expect_json(response, StatusCode::NOT_FOUND).await;
    assert!(body.get("current_version").is_none(), "{body}");
}

#[tokio::test]
async fn an_order_placed_while_waiting_is_returned() {
    let app = spawn_app().await;
    let db = app.db.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        insert(
            &db,
            &Fixture::placed("o-2", "cust-1", "2026-01-10T12:00:00Z"),
        )
        .await;
        sqlx::query("SELECT pg_notify('orderflow_orders', '{\"order_id\":\"o-2\",\"version\":1}')")
            .execute(&db)
            .await
            .unwrap();
    });
    let response = app.get("/orders/o-2?min_version=1&wait_ms=5000").await;
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["order_id"], "o-2");
    writer.await.unwrap();
}

#[tokio::test]
async fn a_change_while_the_listener_reconnects_still_wakes_the_waiter() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(killed, [true], "exactly the listener's connection");

    let db = app.db.clone();
    let writer = tokio::spawn(async move {
        // Committed (and announced to nobody) before the listener is back.
        tokio::time::sleep(Duration::from_millis(50)).await;
        advance(&db, "o-1", 2).await;
    });
    let response = app.get("/orders/o-1?min_version=2&wait_ms=5000").await;
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["version"], 2);
    writer.await.unwrap();
}
