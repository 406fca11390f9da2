//! What no mock plays: a declined card, a processor that answers too late, and a
//! cancellation after the authorization.

use crate::support::{order_id, product, spawn_stack, spawn_without_fulfilment};
use orderflow_testkit::eventually;
use orderflow_testkit::stripe::Fault;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_declined_payment_rejects_the_order_and_releases_its_reservation() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, order) = (product(), order_id());
    stack.receive(&sku, 4).await;

    stack
        .place(
            &order,
            &[(&sku, 3)],
            "pm_card_chargeDeclinedInsufficientFunds",
        )
        .await;
    stack.wait_for(&order, "rejected").await;
    stack.wait_for_stock(&sku, 4, 0).await;
    let calls = stack.payment_calls(&order);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 402);
}

#[tokio::test]
async fn a_processor_that_answers_too_late_gets_the_order_compensated_and_the_authorization_voided()
{
    let Some(stack) = spawn_without_fulfilment().await else {
        return;
    };
    let stack = stack
        .with_fulfilment(|s| {
            s.call_timeout_ms = 300;
            s.authorize_deadline_ms = 2_000;
        })
        .await;
    let (sku, order) = (product(), order_id());
    stack.receive(&sku, 2).await;
    // Stripe takes the authorization, but its answers arrive after the client gave up.
    stack
        .proxy
        .set(Fault::SlowAnswer(Duration::from_millis(800)));

    stack.place(&order, &[(&sku, 1)], "pm_card_visa").await;
    stack.wait_for(&order, "rejected").await;
    stack.wait_for_stock(&sku, 2, 0).await;
    // Once it answers in time again, the saga learns the authorization and voids it.
    stack.proxy.set(Fault::None);
    eventually(Duration::from_secs(30), "the void", || async {
        stack
            .payment_steps(&order)
            .contains(&"void".to_owned())
            .then_some(())
    })
    .await;
    let steps = stack.payment_steps(&order);
    assert!(
        steps.iter().all(|s| s == "authorize" || s == "void"),
        "{steps:?}"
    );
    assert_eq!(steps.iter().filter(|s| *s == "void").count(), 1);
    let effects = stack.payment_effects().await;
    let ours: Vec<&str> = effects
        .iter()
        .filter(|(o, _)| *o == order)
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(ours, ["requested", "unanswered", "authorized", "voided"]);
}

#[tokio::test]
async fn cancelling_a_confirmed_order_returns_its_stock_and_voids_its_payment() {
    let Some(stack) = spawn_stack().await else {
        return;
    };
    let (sku, order) = (product(), order_id());
    stack.receive(&sku, 3).await;
    stack.place(&order, &[(&sku, 2)], "pm_card_visa").await;
    stack.wait_for(&order, "confirmed").await;
    stack.wait_for_stock(&sku, 3, 2).await;

    let cancel = json!({"reason": "changed my mind"});
    let cancelled = stack
        .command_post(&format!("/orders/{order}/cancel"), &cancel)
        .await;
    assert_eq!(cancelled.status(), 200);
    stack.wait_for_stock(&sku, 3, 0).await;
    eventually(Duration::from_secs(20), "the void", || async {
        (stack.payment_steps(&order) == ["authorize", "void"]).then_some(())
    })
    .await;
}
