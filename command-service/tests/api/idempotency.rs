//! Idempotent retries, before and after a restart, replayed from the keys in the log.

use crate::helpers::{expect_json, order_body, spawn_app, step_request};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_retried_command_returns_the_original_response_and_appends_nothing() {
    let app = spawn_app().await;
    let key = [("idempotency-key", "place-1")];
    let first = app.post("/orders", &order_body(None), &key).await;
    let first = expect_json(first, StatusCode::CREATED).await;
    let retry = app.post("/orders", &order_body(None), &key).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        expect_json(retry, StatusCode::CREATED).await,
        first,
        "same response, same order id"
    );

    let id = first["order_id"].as_str().unwrap();
    let (path, body) = step_request("pack");
    let url = format!("/orders/{id}/{path}");
    let pack_key = [("idempotency-key", "pack-1")];
    let packed = expect_json(app.post(&url, &body, &pack_key).await, StatusCode::OK).await;
    let again = expect_json(app.post(&url, &body, &pack_key).await, StatusCode::OK).await;
    assert_eq!(again, packed);
    assert_eq!(app.log().await.len(), 2);
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_gets_409() {
    let app = spawn_app().await;
    let id = app.place_ok().await;
    let key = [("idempotency-key", "k-1")];
    let url = format!("/orders/{id}/pack");
    expect_json(
        app.post(&url, &json!({"warehouse": "A"}), &key).await,
        StatusCode::OK,
    )
    .await;
    let problem = expect_json(
        app.post(&url, &json!({"warehouse": "B"}), &key).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    let place_key = [("idempotency-key", "new-order")];
    expect_json(
        app.post("/orders", &order_body(None), &place_key).await,
        StatusCode::CREATED,
    )
    .await;
    let mut other = order_body(None);
    other["customer_id"] = json!("someone-else");
    let problem = expect_json(
        app.post("/orders", &other, &place_key).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem["status"], 409);
    assert_eq!(app.log().await.len(), 3);
}

#[tokio::test]
async fn retries_are_recognised_after_a_restart() {
    let app = spawn_app().await;
    let key = [("idempotency-key", "survives")];
    let placed = expect_json(
        app.post("/orders", &order_body(None), &key).await,
        StatusCode::CREATED,
    )
    .await;
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let ship_key = [("idempotency-key", "pack-before-restart")];
    let (path, body) = step_request("pack");
    let packed = expect_json(
        app.post(&format!("/orders/{id}/{path}"), &body, &ship_key)
            .await,
        StatusCode::OK,
    )
    .await;

    let app = app.restart().await;
    let replayed = expect_json(
        app.post("/orders", &order_body(None), &key).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(replayed, placed);
    let replayed = expect_json(
        app.post(&format!("/orders/{id}/{path}"), &body, &ship_key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replayed, packed);
    let problem = app
        .post(
            &format!("/orders/{id}/{path}"),
            &json!({"warehouse": "elsewhere"}),
            &ship_key,
        )
        .await;
    expect_json(problem, StatusCode::CONFLICT).await;
    assert_eq!(app.log().await.len(), 2);
}

#[tokio::test]
async fn placing_an_existing_order_id_is_200_when_identical_and_409_when_not() {
    let app = spawn_app().await;
    let body = order_body(Some("ord-fixed-1"));
    let created = expect_json(app.place(&body).await, StatusCode::CREATED).await;
    assert_eq!(created["order_id"], "ord-fixed-1");
    let same = expect_json(app.place(&body).await, StatusCode::OK).await;
    assert_eq!(
        (same["order_id"].clone(), same["version"].clone()),
        (json!("ord-fixed-1"), json!(1))
    );
    let mut different = body.clone();
    different["items"][0]["quantity"] = json!(3);
    let problem = expect_json(app.place(&different).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/order-exists");
    assert_eq!(app.log().await.len(), 1);
}
