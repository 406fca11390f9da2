//! The analytics endpoints, from fixture rows of the stats tables.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

async fn fill(app: &TestApp) {
    sqlx::raw_sql(
        "INSERT INTO stats_hourly (hour, order_count, revenue) VALUES
           ('2026-01-10T10:00:00Z', 3, 100.00),
           ('2026-01-10T11:00:00Z', 2, 51.98),
           ('2026-01-12T09:00:00Z', 1, 5.50);
         INSERT INTO stats_status (status, order_count) VALUES
           ('placed', 3), ('shipped', 2), ('cancelled', 1);
         INSERT INTO stats_products (product_id, quantity, revenue) VALUES
           ('sku-1', 10, 259.90), ('sku-2', 4, 22.00), ('sku-3', 10, 12.00);",
    )
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn order_stats_count_statuses_and_sum_placed_revenue() {
    let app = spawn_app().await;
    let empty = expect_json(app.get("/stats/orders").await, StatusCode::OK).await;
    assert_eq!(empty["total_orders"], 0);
    assert_eq!(empty["total_revenue"], "0.00");
    fill(&app).await;
    let body = expect_json(app.get("/stats/orders").await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({
            "total_orders": 6,
            "total_revenue": "157.48",
            "by_status": {"placed": 3, "packed": 0, "shipped": 2, "delivered": 0, "cancelled": 1}
        })
    );
}

#[tokio::test]
async fn hourly_revenue_covers_the_range_with_averages() {
    let app = spawn_app().await;
    fill(&app).await;
    let url = "/stats/revenue/hourly?from=2026-01-10T10:30:00Z&to=2026-01-11T00:00:00Z";
    let body = expect_json(app.get(url).await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!([
            {"hour": "2026-01-10T10:00:00.000Z", "order_count": 3, "revenue": "100.00", "avg_order_value": "33.33"},
            {"hour": "2026-01-10T11:00:00.000Z", "order_count": 2, "revenue": "51.98", "avg_order_value": "25.99"}
        ])
    );
    // The default range is the last 24 hours: none of the fixtures.
    let body = expect_json(app.get("/stats/revenue/hourly").await, StatusCode::OK).await;
    assert_eq!(body, json!([]));
    let url = "/stats/revenue/hourly?from=2026-01-10T00:00:00Z&to=2026-03-10T00:00:00Z";
    let body = expect_json(app.get(url).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["detail"].as_str().unwrap().contains("31 days"));
    let url = "/stats/revenue/hourly?from=2026-01-11T00:00:00Z&to=2026-01-10T00:00:00Z";
    expect_json(app.get(url).await, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn top_products_are_by_quantity() {
    let app = spawn_app().await;
    fill(&app).await;
    let body = expect_json(app.get("/stats/products/top?limit=2").await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!([
            {"product_id": "sku-1", "quantity": 10, "revenue": "259.90"},
            {"product_id": "sku-3", "quantity": 10, "revenue": "12.00"}
        ])
    );
    let body = expect_json(app.get("/stats/products/top").await, StatusCode::OK).await;
    assert_eq!(body.as_array().unwrap().len(), 3);
    expect_json(
        app.get("/stats/products/top?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
