//! Fulfilment's lifecycle on the read side: a log that holds v1 order events beside
//! pending, confirmed and rejected orders rebuilds into an equal read model that passes
//! `verify`, and revenue counts sales (confirmed orders, and orders that needed no
//! confirmation), never a placement that waits or was rejected.

use crate::helpers::{Stack, event, order_id, packed, placed, spawn_projector};
use crate::old_events::given_an_order_shipped_with_v1_schemas;
use crate::rebuild::rebuilt;
use orderflow_domain::{Confirmation, EventKind};
use orderflow_projector::tools::verify::verify;

/// `placement` as fulfilment's command service writes it: waiting for confirmation.
fn waiting(placement: EventKind) -> EventKind {
    let EventKind::Placed(mut placed) = placement else {
        unreachable!("a placement")
    };
    placed.confirmation = Confirmation::Required;
    placed.payment_method = Some("pm_card_visa".into());
    EventKind::Placed(placed)
}

async fn revenue(stack: &Stack) -> String {
    sqlx::query_scalar("SELECT coalesce(sum(revenue), 0)::text FROM stats_hourly")
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_log_of_v1_events_and_fulfilment_outcomes_rebuilds_equal_and_verifies_and_counts_sales_only()
 {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (old, confirmed, rejected, pending) = (order_id(), order_id(), order_id(), order_id());
    given_an_order_shipped_with_v1_schemas(&mut stack, &old, 0, placed(&[("sku-1", 1, "10.00")]))
        .await;
    let reason = EventKind::Rejected {
        reason: "sku-2 is out of stock".into(),
    };
    stack
        .append(&[
            event(&confirmed, 1, 5, waiting(placed(&[("sku-2", 2, "7.50")]))),
            event(&confirmed, 2, 6, EventKind::Confirmed),
            event(&confirmed, 3, 7, packed()),
            event(&rejected, 1, 8, waiting(placed(&[("sku-2", 9, "7.50")]))),
            event(&rejected, 2, 9, reason),
            event(&pending, 1, 10, waiting(placed(&[("sku-3", 1, "99.00")]))),
            // Packing a pending order is not in the lifecycle: the fold ignores it.
            event(&pending, 2, 11, packed()),
        ])
        .await;
    stack.wait_projected().await;
    assert_eq!(
        revenue(&stack).await,
        "25.00",
        "10.00 (v1, implied) + 15.00 (confirmed)"
    );

    let report = rebuilt(&stack.settings(), false).await;
    assert!(report.switched);
    for (order, status) in [
        (&old, "shipped"),
        (&confirmed, "packed"),
        (&rejected, "rejected"),
        (&pending, "pending"),
    ] {
        assert_eq!(stack.status_of(order).await, status, "{order}");
    }
    let why: Option<String> =
        sqlx::query_scalar("SELECT reject_reason FROM orders WHERE order_id = $1")
            .bind(&rejected)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(why.as_deref(), Some("sku-2 is out of stock"));
    assert_eq!(revenue(&stack).await, "25.00");
    let verified = verify(&stack.settings()).await.unwrap();
    assert!(verified.is_clean(), "{verified}");
    assert_eq!(verified.orders, 4);
    projector.shutdown().await;
}
