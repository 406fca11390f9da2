//! The whole way: placed, confirmed, packed, shipped (stock committed, payment captured),
//! delivered.

use crate::support::{order_id, product, spawn_stack};
use serde_json::json;

#[tokio::test]
async fn an_order_in_stock_is_confirmed_then_shipping_commits_its_stock_and_captures_its_payment() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, order) = (product(), order_id());
    assert!(stack.receive(&sku, 5).await.status().is_success());

    let placed = stack.place(&order, &[(&sku, 2)], "pm_card_visa").await;
    assert_eq!(placed.status(), 201);
    stack.wait_for(&order, "confirmed").await;
    stack.wait_for_stock(&sku, 5, 2).await;
    assert_eq!(stack.payment_steps(&order), ["authorize"]);

    let pack = stack
        .command_post(
            &format!("/orders/{order}/pack"),
            &json!({"warehouse": "ams-1"}),
        )
        .await;
    assert_eq!(pack.status(), 200);
    let ship = json!({"carrier": "DHL", "tracking_number": "TN-1"});
    assert_eq!(
        stack
            .command_post(&format!("/orders/{order}/ship"), &ship)
            .await
            .status(),
        200
    );
    // The two units leave the warehouse: none reserved, three on hand.
    stack.wait_for_stock(&sku, 3, 0).await;
    orderflow_testkit::eventually(
        std::time::Duration::from_secs(20),
        "the capture",
        || async { (stack.payment_steps(&order) == ["authorize", "capture"]).then_some(()) },
    )
    .await;
    let deliver = stack
        .command_post(&format!("/orders/{order}/deliver"), &json!({}))
        .await;
    assert_eq!(deliver.status(), 200);
    stack.wait_for(&order, "delivered").await;
}

#[tokio::test]
async fn a_pending_order_cannot_be_packed_before_it_is_confirmed() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let order = order_id();
    // No stock was received: the saga will reject it, but packing is refused at once.
    assert_eq!(
        stack
            .place(&order, &[(&product(), 1)], "pm_card_visa")
            .await
            .status(),
        201
    );
    let pack = stack
        .command_post(&format!("/orders/{order}/pack"), &json!({"warehouse": "w"}))
        .await;
    assert!(pack.status() == 409, "{}", pack.status());
    stack.wait_for(&order, "rejected").await;
}
