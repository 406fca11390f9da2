//! Bad input gets a clear problem+json 4xx and never an event.

use crate::helpers::{expect_json, order_body, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn malformed_bodies_get_400_415_and_413() {
    let app = spawn_app().await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/orders"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let problem = expect_json(
        send(b"{\"customer_id\": ".to_vec(), "application/json")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("The body is not valid JSON")
    );
    expect_json(
        send(b"{} trailing".to_vec(), "application/json")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let text = order_body(None).to_string().into_bytes();
    expect_json(
        send(text, "text/plain").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let huge = json!({"customer_id": "c", "shipping_address": "x".repeat(70 * 1024), "items": []});
    expect_json(
        send(huge.to_string().into_bytes(), "application/json")
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(app.log().await.is_empty());
}

#[tokio::test]
async fn invalid_fields_get_422_listing_each() {
    let app = spawn_app().await;
    for (body, expected) in invalid_placements() {
        let problem = expect_json(app.place(&body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(fields(&problem), expected, "body {body}");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
        assert_eq!(problem["type"], "/problems/invalid-fields");
    }
    assert!(app.log().await.is_empty(), "no event for invalid input");
}

/// Placements with invalid fields, each with the fields its problem must list.
fn invalid_placements() -> Vec<(Value, Vec<&'static str>)> {
    vec![
        (
            json!({"customer_id": "", "items": [{"product_id": " ", "quantity": 1, "unit_price": "1"}], "shipping_address": "a"}),
            vec!["customer_id", "items[0].product_id"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 0, "unit_price": "1"}, {"product_id": "p", "quantity": 10001, "unit_price": "1"}], "shipping_address": "a"}),
            vec!["items[0].quantity", "items[1].quantity"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": -3, "unit_price": "1.999"}], "shipping_address": "a"}),
            vec!["items[0].quantity", "items[0].unit_price"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 1, "unit_price": "-1.00"}], "shipping_address": "a"}),
            vec!["items[0].unit_price"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 1, "unit_price": "1.001"}], "shipping_address": "a"}),
            vec!["items[0].unit_price"],
        ),
        (
            json!({"customer_id": "c", "items": [], "shipping_address": "a"}),
            vec!["items"],
        ),
        (
            json!({"customer_id": "c", "items": vec![json!({"product_id": "p", "quantity": 1, "unit_price": "1"}); 101], "shipping_address": "a"}),
            vec!["items"],
        ),
        (
            json!({"customer_id": "c".repeat(65), "items": [{"product_id": "p", "quantity": 1, "unit_price": "1"}], "shipping_address": "a".repeat(501)}),
            vec!["customer_id", "shipping_address"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 1, "unit_price": "1"}], "shipping_address": "a", "order_id": "has space"}),
            vec!["order_id"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 1, "unit_price": 1.5}], "shipping_address": "a"}),
            vec!["items[0].unit_price"],
        ),
        (json!({"items": [], "shipping_address": "a"}), vec!["body"]),
        (
            json!({"customer_id": "c", "items": [], "shipping_address": "a", "coupon": "x"}),
            vec!["coupon"],
        ),
        (
            json!({"customer_id": "c", "items": [{"product_id": "p", "quantity": 1, "unit_price": "1"}], "shipping_address": "a", "currency": "eur"}),
            vec!["currency"],
        ),
    ]
}

#[tokio::test]
async fn invalid_transition_fields_get_422() {
    let app = spawn_app().await;
    let id = app.order_at(&["pack"]).await;
    let cases = [
        ("pack", json!({"warehouse": ""}), "warehouse"),
        (
            "ship",
            json!({"carrier": "DHL", "tracking_number": "t".repeat(201)}),
            "tracking_number",
        ),
        ("ship", json!({"carrier": "DHL"}), "body"),
        ("location", json!({"location": 42}), "location"),
        ("cancel", json!({"reason": "  "}), "reason"),
        (
            "ship",
            json!({"carrier": "DHL", "tracking_number": "t", "estimated_delivery": "31-12-2026"}),
            "estimated_delivery",
        ),
        ("deliver", json!({"when": "now"}), "when"),
    ];
    for (path, body, field) in cases {
        let problem = expect_json(
            app.post(&format!("/orders/{id}/{path}"), &body, &[]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(fields(&problem), [field], "{path} {body}");
    }
    assert_eq!(app.log().await.len(), 2, "only the place and pack events");
}

#[tokio::test]
async fn a_money_total_is_computed_exactly() {
    let app = spawn_app().await;
    let body = json!({"customer_id": "c", "shipping_address": "a", "items": [
        {"product_id": "p1", "quantity": 3, "unit_price": "0.10"},
        {"product_id": "p2", "quantity": 7, "unit_price": "0.20"}
    ]});
    expect_json(app.place(&body).await, StatusCode::CREATED).await;
    let log = app.log().await;
    let orderflow_domain::EventKind::Placed(placed) = &log[0].event.kind else {
        panic!("not placed")
    };
    assert_eq!(placed.total_amount.to_string(), "1.70");
    assert_eq!(placed.currency, "USD", "the default currency");
}
