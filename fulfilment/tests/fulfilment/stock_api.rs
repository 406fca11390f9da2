//! The stock API: operators only, bad input answered with a problem, and a receipt retried
//! under its `Idempotency-Key` counted once (the key scoped to the caller).

use crate::support::{Stack, issuer, product, spawn_stack};
use orderflow_auth::Role;
use reqwest::Response;
use serde_json::{Value, json};

/// POSTs `body` to `/stock/{product}/{what}` with `token` and an optional key.
async fn post(stack: &Stack, token: &str, path: &str, body: &str, key: Option<&str>) -> Response {
    let address = &stack.fulfilment.as_ref().expect("fulfilment runs").address;
    let mut request = stack
        .http
        .post(format!("{address}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_receipt_retried_under_its_idempotency_key_counts_once_for_its_caller() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, ops) = (product(), issuer().operator());
    let path = format!("/stock/{sku}/receipts");
    let receipt = json!({"quantity": 5}).to_string();

    let first = post(&stack, &ops, &path, &receipt, Some("receipt-1")).await;
    assert_eq!(first.headers()["idempotent-replayed"], "false");
    let again = post(&stack, &ops, &path, &receipt, Some("receipt-1")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["on_hand"], 5);
    // Another operator's equal key is another receipt.
    let other = issuer().token("ops-2", &[Role::Operator]);
    let theirs = post(&stack, &other, &path, &receipt, Some("receipt-1")).await;
    assert_eq!(theirs.headers()["idempotent-replayed"], "false");
    // The same key for another change is refused, and a malformed retry is a 422 first.
    let changed = post(
        &stack,
        &ops,
        &path,
        r#"{"quantity": 6.0}"#,
        Some("receipt-1"),
    )
    .await;
    assert_eq!(changed.status(), 409);
    let malformed = post(&stack, &ops, &path, r#"{"quantity": 0}"#, Some("receipt-1")).await;
    assert_eq!(malformed.status(), 422);
    stack.wait_for_stock(&sku, 10, 0).await;
}

#[tokio::test]
async fn stock_commands_are_for_operators_and_bad_input_is_a_problem() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, ops) = (product(), issuer().operator());
    let receipts = format!("/stock/{sku}/receipts");
    let customer = issuer().customer("cust-1");
    let cases = [
        (
            customer.as_str(),
            receipts.as_str(),
            r#"{"quantity": 1}"#,
            None,
            403,
        ),
        (&ops, &receipts, r#"{"quantity": 0}"#, None, 422),
        (&ops, &receipts, r#"{"quantity": "#, None, 400),
        (&ops, &receipts, r#"{"quantity": 1}"#, Some(""), 400),
        (
            &ops,
            "/stock/bad%20id/receipts",
            r#"{"quantity": 1}"#,
            None,
            422,
        ),
    ];
    for (token, path, body, key, status) in cases {
        let answer = post(&stack, token, path, body, key).await;
        assert_eq!(answer.status(), status, "{path} {body}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(kind, "application/problem+json", "{path} {body}");
    }
    // Fewer units than are reserved would remain: refused, the stock as it was.
    post(&stack, &ops, &receipts, r#"{"quantity": 2}"#, None).await;
    let order = crate::support::order_id();
    stack.place(&order, &[(&sku, 2)], "pm_card_visa").await;
    stack.wait_for(&order, "confirmed").await;
    let adjust = json!({"delta": -1, "reason": "count"}).to_string();
    let refused = post(
        &stack,
        &ops,
        &format!("/stock/{sku}/adjustments"),
        &adjust,
        None,
    )
    .await;
    assert_eq!(refused.status(), 409);
    stack.wait_for_stock(&sku, 2, 2).await;
}

#[tokio::test]
async fn the_service_serves_the_document_of_its_api_and_its_page() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let address = &stack.fulfilment.as_ref().expect("fulfilment runs").address;
    let served = stack
        .http
        .get(format!("{address}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let served = served.text().await.unwrap();
    let checked_in = include_str!("../../../docs/openapi/fulfilment-api.json");
    assert_eq!(served, checked_in);
    let page = stack
        .http
        .get(format!("{address}/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}
