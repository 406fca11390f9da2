//! A registry that has no schema for an id the log holds is a lost or foreign registry,
//! not a poison record: the projection stops at that record, says why, and neither
//! dead-letters nor skips it.

use crate::helpers::{Stack, TestProjector, event, order_id, packed, placed, read_topic};
use reqwest::StatusCode;
use std::time::Duration;

/// A Confluent-framed record whose schema id (2147483632) no registry here has given out.
const UNKNOWN_SCHEMA: [u8; 8] = [0, 0x7f, 0xff, 0xff, 0xf0, 2, 4, 6];

#[tokio::test]
async fn a_schema_id_the_registry_does_not_know_stops_the_projection_and_is_not_dead_lettered() {
    let mut stack = Stack::start().await;
    let projector = crate::helpers::spawn_projector(stack.settings()).await;
    let id = order_id();
    stack
        .append(&[event(&id, 1, 0, placed(&[("sku-1", 1, "10")]))])
        .await;
    stack.wait_projected().await;
    let (partition, offset) = stack.produce(id.as_bytes(), &UNKNOWN_SCHEMA).await;
    // The order moves on after it: folded past the record, it would be packed.
    stack.append(&[event(&id, 2, 1, packed())]).await;

    let stalled = stalled(&projector).await;
    let at = format!("partition {partition} at offset {offset}: ");
    let why = "the registry has no schema with id 2147483632, which the log holds";
    assert!(stalled.contains(&format!("{at}{why}")), "{stalled}");
    let readyz = reqwest::get(format!("{}/readyz", projector.address)).await;
    assert_eq!(readyz.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);

    // Nothing is dead-lettered, and nothing from the record on is folded.
    assert!(read_topic(&format!("{}.dlq", stack.topic)).await.is_empty());
    assert_eq!(projector.status().await["dead_lettered"], 0);
    assert_eq!(stack.stored_offsets().await[&partition], offset);
    let version: i64 = sqlx::query_scalar("SELECT version FROM orders WHERE order_id = $1")
        .bind(&id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(version, 1);
    projector.shutdown().await;
}

/// What `/readyz` says the projection stopped at, once it says so.
async fn stalled(projector: &TestProjector) -> String {
    for _ in 0..300 {
        let status = projector.status().await;
        if let Some(reason) = status["stalled"].get(0).and_then(|r| r.as_str()) {
            assert_eq!(status["ready"], false, "{status}");
            return reason.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the projector did not report the record it stopped at");
}
