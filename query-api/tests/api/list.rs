//! `GET /orders`: filters, newest-first order and keyset pagination.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashSet;

/// 25 orders of two customers, several sharing a `placed_at` (so the id breaks ties).
async fn fill(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..25 {
        let id = format!("o-{i:02}");
        let customer = if i % 2 == 0 { "cust-even" } else { "cust-odd" };
        let placed_at = format!("2026-01-10T12:{:02}:00Z", i / 3);
        let mut order = Fixture::placed(&id, customer, &placed_at);
        if i % 5 == 0 {
            order.status = "cancelled";
        }
        insert(&app.db, &order).await;
        ids.push(id);
    }
    ids
}

/// Every page of `query`, following `next_cursor`.
async fn pages(app: &TestApp, query: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/orders?{query}&cursor={c}"),
            None => format!("/orders?{query}"),
        };
        let body = expect_json(app.get(&url).await, StatusCode::OK).await;
        out.push(body["orders"].as_array().unwrap().clone());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return out,
        }
        assert!(out.len() < 50, "pagination does not end");
    }
}

fn ids(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_cover_every_order_once_newest_first() {
    let app = spawn_app().await;
    let mut expected = fill(&app).await;
    // Newest first; equal placed_at by order id descending: ids were made in that order.
    expected.reverse();

    let pages = pages(&app, "limit=7").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 7, 4]);
    let all: Vec<String> = pages.iter().flat_map(|p| ids(p)).collect();
    assert_eq!(all, expected);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 25);
    let first = &pages[0][0];
    assert!(first.get("items").is_none());
    assert_eq!(first["items_count"], 2);
    assert_eq!(first["total_amount"], "57.48");
}

#[tokio::test]
async fn filters_combine_with_pagination() {
    let app = spawn_app().await;
    fill(&app).await;
    let odd: Vec<String> = pages(&app, "customer_id=cust-odd&limit=5")
        .await
        .iter()
        .flat_map(|p| ids(p))
        .collect();
    assert_eq!(odd.len(), 12);
    assert!(
        odd.iter()
            .all(|id| id[2..].parse::<u32>().unwrap() % 2 == 1)
    );

    let cancelled = pages(&app, "status=cancelled&customer_id=cust-even&limit=2").await;
    let cancelled: Vec<String> = cancelled.iter().flat_map(|p| ids(p)).collect();
    assert_eq!(cancelled, ["o-20", "o-10", "o-00"]);

    // An exact page boundary ends with a null cursor, not an empty extra page.
    let body = expect_json(
        app.get("/orders?status=cancelled&limit=5").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["orders"].as_array().unwrap().len(), 5);
    assert!(body["next_cursor"].is_null());

    let body = expect_json(app.get("/orders?customer_id=nobody").await, StatusCode::OK).await;
    assert_eq!(body["orders"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_parameters_are_problems() {
    let app = spawn_app().await;
    let body = expect_json(app.get("/orders?limit=many").await, StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("limit"));
    expect_json(
        app.get("/orders?limit=201").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_json(
        app.get("/orders?status=lost").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_json(
        app.get("/orders?cursor=not-a-cursor").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}
