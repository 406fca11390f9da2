//! A customer's own journey over the whole stack with tokens from the development issuer:
//! it places and cancels its order on the command API and reads it, read-your-writes, on
//! the query API; another customer finds nothing of it anywhere.

use crate::stack::{Stack, as_caller};
use orderflow_testkit::TestIssuer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_customer_places_cancels_and_reads_its_own_order_and_no_one_else_sees_it() {
    let stack = Stack::start().await;
    let issuer = TestIssuer::shared();
    let (alice, mallory) = (issuer.customer("alice"), issuer.customer("mallory"));
    let client = reqwest::Client::new();
    let commands = |path: &str| client.post(format!("{}{path}", stack.commands_url()));
    let queries = |path: &str| client.get(format!("{}{path}", stack.queries_url()));

    let body = json!({"customer_id": "alice", "shipping_address": "1 Main St",
        "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}]});
    let (status, placed) = as_caller(commands("/orders").json(&body), &alice).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let cancel = json!({"reason": "changed my mind"});
    let path = format!("/orders/{id}/cancel");
    let (status, _) = as_caller(commands(&path).json(&cancel), &mallory).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer cannot cancel it"
    );
    let (status, cancelled) = as_caller(commands(&path).json(&cancel), &alice).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");

    let read = format!("/orders/{id}?min_version=2&wait_ms=5000");
    let (status, order) = as_caller(queries(&read), &alice).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "cancelled");
    let (_, listed) = as_caller(queries("/orders"), &alice).await;
    assert_eq!(listed["orders"][0]["order_id"], id.as_str());

    for path in [format!("/orders/{id}"), format!("/orders/{id}/history")] {
        let (status, _) = as_caller(queries(&path), &mallory).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} for another customer");
    }
    let (_, theirs) = as_caller(queries("/orders"), &mallory).await;
    assert_eq!(theirs["orders"], json!([]));
}
