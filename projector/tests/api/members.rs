//! A projector runs one consumer-group member per writer (`--writers`); the group shares
//! the partitions among them as among instances.

use crate::helpers::{
    PARTITIONS, Stack, analytics, event, order_ids_in_each_partition, packed, placed,
    spawn_projector,
};
use orderflow_domain::Decimal;

#[tokio::test]
async fn a_projector_with_more_writers_than_partitions_is_ready_and_projects_every_partition() {
    let mut stack = Stack::start().await;
    let mut settings = stack.settings();
    settings.writers = u16::try_from(PARTITIONS + 2).unwrap();
    let projector = spawn_projector(settings).await;
    projector.wait_ready().await;

    // Two orders in every partition: each placed, the first of each partition packed.
    let ids = order_ids_in_each_partition(2);
    let mut events = Vec::new();
    for of_partition in &ids {
        events.push(event(
            &of_partition[0],
            1,
            0,
            placed(&[("sku-1", 1, "2.50")]),
        ));
        events.push(event(
            &of_partition[1],
            1,
            1,
            placed(&[("sku-2", 2, "1.25")]),
        ));
        events.push(event(&of_partition[0], 2, 2, packed()));
    }
    stack.append(&events).await;
    stack.wait_projected().await;

    let n = PARTITIONS;
    let money = |cents: i64| Decimal::new(cents, 2) * Decimal::from(n);
    assert_eq!(
        analytics(&stack.db).await,
        [
            format!("hour 2026-01-01 10 {} {}", 2 * n, money(500)),
            format!("product sku-1 {n} {}", money(250)),
            format!("product sku-2 {} {}", 2 * n, money(250)),
            format!("status packed {n}"),
            format!("status placed {n}"),
        ]
    );
    let status = projector.status().await;
    assert_eq!(status["applied"], 3 * n);
    assert_eq!(status["ignored"], 0);
    projector.shutdown().await;
}
