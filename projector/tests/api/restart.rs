//! Stopping or killing the projector, and starting it again, loses nothing and applies
//! nothing twice: it resumes from the offsets stored with the read model.

use crate::helpers::{
    Stack, analytics, cancelled, event, order_id, packed, placed, spawn_projector,
};
use std::time::Duration;

#[tokio::test]
async fn a_restart_resumes_from_the_stored_offsets_without_double_counting() {
    let mut stack = Stack::start().await;
    let first = spawn_projector(stack.settings()).await;
    let (a, b) = (order_id(), order_id());
    stack
        .append(&[
            event(&a, 1, 0, placed(&[("sku-1", 2, "3")])),
            event(&b, 1, 1, placed(&[("sku-1", 1, "3")])),
            event(&a, 2, 2, packed()),
        ])
        .await;
    stack.wait_projected().await;
    let before = analytics(&stack.db).await;
    first.shutdown().await;

    // A new group has no committed offsets in Kafka and would read from the beginning:
    // only the offsets stored in Postgres keep it from folding everything again.
    let second = spawn_projector(stack.settings()).await;
    second.wait_ready().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(analytics(&stack.db).await, before, "nothing replayed");
    assert_eq!(second.status().await["applied"], 0);

    stack.append(&[event(&b, 2, 3, cancelled())]).await;
    stack.wait_projected().await;
    assert_eq!(
        analytics(&stack.db).await,
        [
            "hour 2026-01-01 10 2 9.00",
            "product sku-1 3 9.00",
            "status cancelled 1",
            "status packed 1",
        ]
    );
    second.shutdown().await;
}
