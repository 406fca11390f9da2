//! A processor that answers 5xx: the authorization is retried, the saga shows as stuck in
//! the read model with the processor's error, and it confirms once the processor recovers.

use crate::support::{order_id, product, spawn_without_fulfilment};
use chrono::Utc;
use orderflow_fulfilment_model::list_sagas;
use orderflow_testkit::eventually;
use orderflow_testkit::stripe::Fault;
use std::time::Duration;

#[tokio::test]
async fn a_processor_answering_5xx_leaves_the_saga_stuck_with_its_error_until_it_recovers() {
    let Some(stack) = spawn_without_fulfilment().await else {
        return;
    };
    let stack = stack.with_fulfilment(|s| s.stuck_after_ms = 500).await;
    let (sku, order) = (product(), order_id());
    stack.receive(&sku, 1).await;
    stack.proxy.set(Fault::Status(503));

    stack.place(&order, &[(&sku, 1)], "pm_card_visa").await;
    let pool = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    let stuck = eventually(Duration::from_secs(30), "a stuck saga", || async {
        let before = Utc::now() - chrono::TimeDelta::milliseconds(500);
        let sagas = list_sagas(&pool, Some(before), 10).await.ok()?;
        sagas
            .into_iter()
            .find(|s| s.order_id == order && s.attempts >= 2)
    })
    .await;
    assert_eq!(
        (stuck.status.as_str(), stuck.step.as_deref()),
        ("pending", Some("authorize"))
    );
    assert!(
        stuck
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503"),
        "{stuck:?}"
    );
    assert_eq!(stack.status(&order).await, "pending");

    stack.proxy.set(Fault::None);
    stack.wait_for(&order, "confirmed").await;
    // A confirmed order has no step to do: it leaves the list.
    eventually(
        Duration::from_secs(10),
        "the saga to leave the list",
        || async {
            let open = list_sagas(&pool, None, 10).await.ok()?;
            open.iter().all(|s| s.order_id != order).then_some(())
        },
    )
    .await;
}
