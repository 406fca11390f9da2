//! Out of stock: the order is rejected and the stock left as it was; two orders for the
//! last unit confirm exactly one.

use crate::support::{order_id, product, spawn_stack};

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_rejected_and_the_stock_is_unchanged() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (plenty, scarce, order) = (product(), product(), order_id());
    stack.receive(&plenty, 10).await;
    stack.receive(&scarce, 1).await;

    stack
        .place(&order, &[(&plenty, 3), (&scarce, 2)], "pm_card_visa")
        .await;
    stack.wait_for(&order, "rejected").await;
    // The first line was reserved, then released when the second could not be.
    stack.wait_for_stock(&plenty, 10, 0).await;
    stack.wait_for_stock(&scarce, 1, 0).await;
    assert!(
        stack.payment_calls(&order).is_empty(),
        "nothing is authorized"
    );
}

#[tokio::test]
async fn two_orders_for_the_last_unit_confirm_exactly_one() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, first, second) = (product(), order_id(), order_id());
    stack.receive(&sku, 1).await;

    let line = [(sku.as_str(), 1)];
    let (a, b) = tokio::join!(
        stack.place(&first, &line, "pm_card_visa"),
        stack.place(&second, &line, "pm_card_visa"),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    let ended = |s: String| s == "confirmed" || s == "rejected";
    let mut statuses = Vec::new();
    for order in [&first, &second] {
        orderflow_testkit::eventually(std::time::Duration::from_secs(30), "an outcome", || async {
            let status = stack.status(order).await;
            ended(status.clone()).then_some(())
        })
        .await;
        statuses.push(stack.status(order).await);
    }
    statuses.sort();
    assert_eq!(statuses, ["confirmed", "rejected"]);
    stack.wait_for_stock(&sku, 1, 1).await;
}
