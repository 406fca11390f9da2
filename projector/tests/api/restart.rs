//! Stopping or killing the projector, and starting it again, loses nothing and applies
//! nothing twice: it resumes from the offsets stored with the read model.

use crate::helpers::{
    PARTITIONS, Stack, analytics, cancelled, event, order_id, order_ids_in_each_partition, packed,
    placed, spawn_projector,
};
use std::time::Duration;

#[tokio::test]
async fn a_restart_resumes_from_the_stored_offsets_without_double_counting() {
    let mut stack = Stack::start().await;
    let (_, b) = project_two_orders(&mut stack).await;
    let before = analytics(&stack.db).await;

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

#[tokio::test]
async fn a_partition_whose_stored_offset_is_past_the_end_of_the_log_is_left_alone_until_a_rebuild()
{
    let mut stack = Stack::start().await;
    let first = spawn_projector(stack.settings()).await;
    let ids = order_ids_in_each_partition(1);
    let placements: Vec<_> = ids
        .iter()
        .map(|of_partition| event(&of_partition[0], 1, 0, placed(&[("sku-1", 1, "3")])))
        .collect();
    stack.append(&placements).await;
    stack.wait_projected().await;
    first.shutdown().await;

    // As if partition 0's log had been replaced by a shorter one (a broker that lost data
    // restarted): its stored offset now lies far past the end of the log.
    let (_, schema, _) = stack.live_generation().await.unwrap();
    let moved = format!(
        "UPDATE {schema}.projection_offsets SET next_offset = next_offset + 1000000 WHERE partition = 0"
    );
    sqlx::query(&moved).execute(&stack.db).await.unwrap();

    let second = spawn_projector(stack.settings()).await;
    let packs: Vec<_> = ids
        .iter()
        .map(|of_partition| event(&of_partition[0], 2, 1, packed()))
        .collect();
    stack.append(&packs).await;
    stack.wait_projected().await;

    let status = second.status().await;
    assert_eq!(status["ready"], false, "{status}");
    let ahead = &status["ahead_of_log"];
    assert_eq!(ahead.as_array().map(Vec::len), Some(1), "{status}");
    assert_eq!(ahead[0]["partition"], 0);
    assert_eq!(ahead[0]["stored_offset"], 1_000_001);
    // The other partitions go on; partition 0's new record is not skipped as folded.
    assert_eq!(status["applied"], PARTITIONS - 1, "{status}");
    let ids: Vec<String> = ids.into_iter().map(|mut i| i.remove(0)).collect();
    let packed_count = |statuses: Vec<String>| statuses.iter().filter(|s| *s == "packed").count();
    assert_eq!(packed_count(statuses_of(&stack, &ids).await), 2);

    // A rebuild folds the log as it is now; the live projector follows the switch.
    crate::rebuild::rebuilt(&stack.settings(), false).await;
    second.wait_ready().await;
    assert_eq!(second.status().await["ahead_of_log"], serde_json::json!([]));
    assert_eq!(packed_count(statuses_of(&stack, &ids).await), 3);
    second.shutdown().await;
}

/// The status of each of `ids` in the live generation.
async fn statuses_of(stack: &Stack, ids: &[String]) -> Vec<String> {
    let (_, schema, _) = stack.live_generation().await.unwrap();
    let sql = format!("SELECT status FROM {schema}.orders WHERE order_id = ANY($1)");
    sqlx::query_scalar(&sql)
        .bind(ids)
        .fetch_all(&stack.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn orders_whose_cache_write_was_lost_in_a_crash_are_written_through_on_assignment() {
    let mut stack = Stack::start().await;
    let (a, b) = project_two_orders(&mut stack).await;

    // As if the process died after committing to Postgres and before Redis confirmed:
    // the documents are missing and the stored cache position trails the offsets.
    stack.forget_cached(&a).await;
    stack.forget_cached(&b).await;
    stack
        .execute_in_live("UPDATE {schema}.projection_offsets SET cached_offset = 0")
        .await;

    let second = spawn_projector(stack.settings()).await;
    second.wait_ready().await;
    for (id, version) in [(&a, 2), (&b, 1)] {
        let cached = wait_cached(&stack, id).await;
        assert_eq!(cached["version"], version, "{cached}");
    }
    assert_eq!(second.status().await["applied"], 0, "nothing folded twice");
    second.shutdown().await;
}

#[tokio::test]
async fn a_confirmed_cache_position_means_no_catch_up_on_assignment() {
    let mut stack = Stack::start().await;
    let first = spawn_projector(stack.settings()).await;
    let a = order_id();
    stack
        .append(&[event(&a, 1, 0, placed(&[("sku-1", 2, "3")]))])
        .await;
    stack.wait_projected().await;
    first.shutdown().await;

    // The cache position is confirmed up to the stored offset: the step reads nothing
    // again, so a document dropped behind the projector's back stays dropped.
    stack.forget_cached(&a).await;
    stack
        .execute_in_live("UPDATE {schema}.projection_offsets SET cached_offset = next_offset")
        .await;
    let second = spawn_projector(stack.settings()).await;
    second.wait_ready().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stack.cached(&a).await, None);
    second.shutdown().await;
}

#[tokio::test]
async fn a_new_partitions_cache_position_starts_at_zero_not_unknown() {
    // Unknown would read as the stored offset: a crash after a partition's first commit,
    // before that batch's cache write, would then leave its orders out of Redis for good.
    let stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    projector.wait_ready().await;
    let (_, schema, _) = stack.live_generation().await.unwrap();
    let sql = format!("SELECT cached_offset FROM {schema}.projection_offsets");
    let cached: Vec<Option<i64>> = sqlx::query_scalar(&sql).fetch_all(&stack.db).await.unwrap();
    assert_eq!(cached, vec![Some(0); PARTITIONS as usize]);
    projector.shutdown().await;
}

/// Projects a packed order `a` (version 2) and a placed order `b` (version 1), then stops
/// the projector.
async fn project_two_orders(stack: &mut Stack) -> (String, String) {
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
    first.shutdown().await;
    (a, b)
}

async fn wait_cached(stack: &Stack, order_id: &str) -> serde_json::Value {
    for _ in 0..100 {
        if let Some(cached) = stack.cached(order_id).await {
            return cached;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {order_id} was not written through to Redis");
}
