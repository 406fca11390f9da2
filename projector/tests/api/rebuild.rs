//! Rebuilds against the real stack: a new generation built beside the live one while the
//! live projector keeps projecting, the atomic switch, `verify` catching a tampered row,
//! and the repair of one order.

use crate::helpers::{Stack, cancelled, event, order_id, packed, placed, shipped, spawn_projector};
use crate::old_events::given_an_order_shipped_with_v1_schemas;
use orderflow_domain::Event;
use orderflow_projector::tools::rebuild::{CancellationToken, RebuildOptions, rebuild};
use orderflow_projector::tools::repair::repair_order;
use orderflow_projector::tools::verify::verify;
use orderflow_projector::{ProgressMode, Settings};
use std::time::Duration;

fn options(keep_old: bool) -> RebuildOptions {
    RebuildOptions {
        keep_old,
        fresh: false,
        generation: None,
        drop_grace: Duration::ZERO,
        progress: ProgressMode::Off,
    }
}

pub(crate) async fn rebuilt(
    settings: &Settings,
    keep_old: bool,
) -> orderflow_projector::RebuildReport {
    rebuilt_with(settings, &options(keep_old)).await
}

/// Runs a rebuild with `options` to its end.
async fn rebuilt_with(
    settings: &Settings,
    options: &RebuildOptions,
) -> orderflow_projector::RebuildReport {
    // Never cancelled: this rebuild runs to its switch.
    let stop = CancellationToken::new();
    tokio::time::timeout(Duration::from_secs(120), rebuild(settings, options, stop))
        .await
        .expect("the rebuild finished in time")
        .expect("the rebuild succeeded")
}

/// Three orders through their lifecycles, with a duplicate and a conflicting append.
fn lifecycles(ids: &[String]) -> Vec<Event> {
    let mut events = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let minutes = n as i64 * 7;
        events.push(event(
            id,
            1,
            minutes,
            placed(&[("sku-1", 2, "25.99"), ("sku-2", 1, "5.50")]),
        ));
        events.push(event(id, 2, minutes + 1, packed()));
        events.push(event(id, 2, minutes + 2, cancelled()));
        if n % 2 == 0 {
            events.push(event(id, 3, minutes + 3, shipped()));
        }
    }
    events
}

/// Every row readers see, as text, for comparing two generations.
async fn visible_rows(stack: &Stack) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT row_to_json(o)::text FROM (SELECT * FROM orders ORDER BY order_id) o
         UNION ALL SELECT row_to_json(h)::text FROM
             (SELECT order_id, version, event_type, event_id FROM order_history ORDER BY 1, 2) h
         UNION ALL SELECT row_to_json(s)::text FROM
             (SELECT * FROM stats_status WHERE order_count <> 0 ORDER BY 1) s
         UNION ALL SELECT row_to_json(s)::text FROM (SELECT * FROM stats_hourly ORDER BY 1) s
         UNION ALL SELECT row_to_json(s)::text FROM (SELECT * FROM stats_products ORDER BY 1) s",
    )
    .fetch_all(&stack.db)
    .await
    .unwrap()
}

/// The status, currency and estimated delivery of order `id`.
async fn status_currency_and_eta_of(
    stack: &Stack,
    id: &str,
) -> (String, String, Option<chrono::NaiveDate>) {
    sqlx::query_as("SELECT status, currency, estimated_delivery FROM orders WHERE order_id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

/// Places an order after everything else, and waits until it is projected.
async fn a_late_order_projected(stack: &mut Stack) -> String {
    let late = order_id();
    stack
        .append(&[event(&late, 1, 50, placed(&[("sku-1", 1, "1.00")]))])
        .await;
    stack.wait_projected().await;
    late
}

async fn schema_exists(stack: &Stack, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rebuild_replaces_the_live_generation_with_an_equal_one_read_from_v1_and_v2_events() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let ids: Vec<String> = (0..3).map(|_| order_id()).collect();
    stack.append(&lifecycles(&ids)).await;
    // An order written with the v1 schemas, before `currency` and `estimated_delivery`.
    let old = order_id();
    let placement = placed(&[("sku-3", 1, "9.99")]);
    given_an_order_shipped_with_v1_schemas(&mut stack, &old, 30, placement).await;
    stack.wait_projected().await;
    let (first, first_schema, _) = stack.live_generation().await.unwrap();
    let before = visible_rows(&stack).await;

    let report = rebuilt(&stack.settings(), false).await;

    assert!(report.switched);
    assert_eq!(report.previous, Some(first));
    assert!(report.dropped_previous);
    let (live, _, prefix) = stack.live_generation().await.unwrap();
    assert_eq!(live, report.generation);
    assert_ne!(live, first);
    assert!(
        !schema_exists(&stack, &first_schema).await,
        "the old generation is dropped"
    );
    assert_eq!(
        visible_rows(&stack).await,
        before,
        "the new generation equals the old one"
    );
    assert_eq!(
        status_currency_and_eta_of(&stack, &old).await,
        ("shipped".into(), "USD".into(), None),
        "v1 events read with the defaults"
    );
    assert!(prefix.contains(&format!("g{live}:")));
    let cached = stack
        .cached(&ids[0])
        .await
        .expect("the new generation's cache is filled");
    assert_eq!(cached["version"], 3);

    // The live projector moved to the new generation and goes on there.
    let late = a_late_order_projected(&mut stack).await;
    assert_eq!(stack.status_of(&late).await, "placed");
    let verified = verify(&stack.settings()).await.unwrap();
    assert!(verified.is_clean(), "{verified}");
    assert_eq!(verified.orders, 5);
    projector.shutdown().await;
}

#[tokio::test]
async fn verify_names_a_tampered_row_and_repairing_the_order_makes_it_pass_again() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let ids: Vec<String> = (0..3).map(|_| order_id()).collect();
    stack.append(&lifecycles(&ids)).await;
    stack.wait_projected().await;
    let clean = verify(&stack.settings()).await.unwrap();
    assert!(clean.is_clean(), "{clean}");
    assert_eq!(clean.ignored, 3, "the conflicting cancellations");

    sqlx::query("UPDATE orders SET status = 'delivered', version = 9 WHERE order_id = $1")
        .bind(&ids[1])
        .execute(&stack.db)
        .await
        .unwrap();
    let tampered = verify(&stack.settings()).await.unwrap();
    assert!(!tampered.is_clean());
    let text = tampered.to_string();
    assert!(text.contains("orders: 1 rows differ"), "{text}");
    assert!(
        text.contains(&ids[1]) && text.contains("delivered"),
        "{text}"
    );
    assert!(
        !text.contains("order_history"),
        "only the tampered table: {text}"
    );
    sqlx::query("UPDATE stats_status SET order_count = order_count + 5 WHERE status = 'packed'")
        .execute(&stack.db)
        .await
        .unwrap();
    let text = verify(&stack.settings()).await.unwrap().to_string();
    assert!(text.contains("stats_status: 1 rows differ"), "{text}");

    let repaired = repair_order(&stack.settings(), &ids[1]).await.unwrap();
    assert_eq!(
        repaired.events, 3,
        "placed, packed and the ignored cancellation"
    );
    assert_eq!(repaired.before, Some((9, "delivered".into())));
    assert_eq!(
        repaired.after.map(|(v, s)| (v, s.as_str())),
        Some((2, "packed"))
    );
    let again = verify(&stack.settings()).await.unwrap();
    assert!(again.is_clean(), "{again}");
    projector.shutdown().await;
}

#[tokio::test]
async fn a_kept_generation_can_be_switched_back_to_and_catches_up_first() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let ids: Vec<String> = (0..2).map(|_| order_id()).collect();
    stack.append(&lifecycles(&ids)).await;
    stack.wait_projected().await;
    let (first, first_schema, _) = stack.live_generation().await.unwrap();

    let report = rebuilt(&stack.settings(), true).await;
    assert!(!report.dropped_previous);
    assert!(
        schema_exists(&stack, &first_schema).await,
        "kept for a rollback"
    );
    let late = a_late_order_projected(&mut stack).await;

    // The rollback: the retired generation folds what it missed, then is live again.
    let back = RebuildOptions {
        generation: Some(first),
        ..options(true)
    };
    let report = rebuilt_with(&stack.settings(), &back).await;
    assert!(report.switched);
    assert_eq!(stack.live_generation().await.unwrap().0, first);
    assert_eq!(
        stack.status_of(&late).await,
        "placed",
        "the events of its retirement were folded"
    );
    let verified = verify(&stack.settings()).await.unwrap();
    assert!(verified.is_clean(), "{verified}");
    projector.shutdown().await;
}
