//! The real `projector` binary, killed with SIGKILL in the middle of a backlog and started
//! again with the same configuration, ends with exactly the read model that a fold of the
//! whole log gives: nothing lost, nothing applied twice.
//!
//! Set `ORDERFLOW_CRASH_TEST_LOGS=1` to see the children's logs.

use crate::backlog::given_a_backlog;
use crate::children::{Offsets, Projector, child_env};
use crate::helpers::{PARTITIONS, Stack, read_topic, redis_url};
use orderflow_domain::Event;
use orderflow_platform::partition_for_key;
use orderflow_projector::tools::verify::{Folder, ReadModel, compare, stored_read_model};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Orders in the backlog (about four events each).
const ORDERS: usize = 3_000;
/// How long the second process may take to fold the rest of the backlog.
const WITHIN: Duration = Duration::from_secs(45);

#[tokio::test]
async fn a_projector_killed_with_sigkill_mid_batch_and_restarted_matches_a_fold_of_the_whole_log() {
    let started = Instant::now();
    let stack = Stack::start().await;
    let events = given_a_backlog(&stack, ORDERS).await;

    // The log as it is, in log order per partition (orders never span partitions).
    let (log, ends) = decoded_log(&stack).await;
    assert_eq!(
        log.len(),
        events.len(),
        "every produced event is in the log"
    );
    let (expected, ignored) = fold_of(&log);
    assert!(
        ignored >= 10,
        "the backlog holds duplicates and conflicting appends"
    );

    // First projector process: killed once some batches are committed, but not all.
    let env = child_env(&stack);
    let total: i64 = ends.values().sum();
    let (at_kill, resumed_at) = killed_a_quarter_in(&stack, &env, total).await;
    let resumed: i64 = resumed_at.values().sum();
    assert!(
        resumed < total,
        "killed after the whole backlog was folded ({resumed_at:?}, saw {at_kill:?}): \
         make the backlog bigger"
    );
    let elapsed = started.elapsed();
    println!("killed after {elapsed:?}: {resumed} of {total} records folded ({resumed_at:?})");

    // Second projector process, same configuration: resumes from the stored offsets.
    let mut second = Projector::start(&env);
    let folded = || stored_offsets(&stack);
    let stored = second.wait_folded_to(&ends, WITHIN, folded).await;
    assert_eq!(stored, ends, "stored offsets point past the end of the log");
    println!("caught up after {:?}", started.elapsed());

    let differences = compare(&expected, &stored_read_model_of(&stack).await);
    assert!(
        differences.is_empty(),
        "the read model differs from a fold of the whole log: {differences:#?}"
    );

    // Redis holds every order at its final version too, including orders whose last
    // batch the killed process committed but never wrote through: on assignment the
    // projector re-reads the log from where the cache was confirmed and refreshes those
    // orders' entries from Postgres (ADR 0010).
    let stale = stale_in_redis(&stack, &expected, Duration::from_secs(15)).await;
    assert!(
        stale.is_empty(),
        "{} of {} orders are stale in Redis, e.g. {:?}",
        stale.len(),
        expected.orders.len(),
        &stale[..stale.len().min(3)]
    );

    second.kill();
    println!("done after {:?}", started.elapsed());
}

/// The stack's log decoded, in log order per partition, and each partition's end.
pub(crate) async fn decoded_log(stack: &Stack) -> (Vec<Event>, BTreeMap<i32, i64>) {
    let records = read_topic(&stack.topic).await;
    let mut log = Vec::with_capacity(records.len());
    let mut ends: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for record in &records {
        let key = record.key.as_deref().expect("keyed record");
        *ends.get_mut(&partition_for_key(key, PARTITIONS)).unwrap() += 1;
        let value = record.value.as_deref().expect("record with a value");
        log.push(stack.codec.decode(value).await.unwrap());
    }
    (log, ends)
}

/// What a fold of `log` gives, and how many of its events the fold ignored.
pub(crate) fn fold_of(log: &[Event]) -> (ReadModel, usize) {
    let mut folder = Folder::default();
    log.iter().for_each(|event| folder.push(event));
    let ignored = folder.ignored;
    (folder.finish(), ignored)
}

/// Starts a projector process and kills it (SIGKILL) a quarter into the backlog of `total`
/// records, at a varying moment of a batch; returns the offsets stored when it was a
/// quarter in, and those stored when it was killed.
async fn killed_a_quarter_in(
    stack: &Stack,
    env: &[(&'static str, String)],
    total: i64,
) -> (Offsets, Offsets) {
    let mut first = Projector::start(env);
    let (what, within) = ("the first projector", Duration::from_secs(40));
    let offsets = || stored_offsets(stack);
    let at_kill = first.wait_a_quarter_in(what, total, within, offsets).await;
    // A quarter in, several batches are committed and the next ones are in flight; a
    // varying pause lands the kill anywhere in a batch.
    a_varying_pause().await;
    first.kill();
    (at_kill, stored_offsets(stack).await)
}

/// The live generation's tables, as `verify` reads them.
pub(crate) async fn stored_read_model_of(stack: &Stack) -> ReadModel {
    let mut db = stack.db.acquire().await.unwrap();
    stored_read_model(&mut db).await.unwrap()
}

/// Stored next offsets of the stack's topic, by partition.
pub(crate) async fn stored_offsets(stack: &Stack) -> BTreeMap<i32, i64> {
    stack.stored_offsets().await.into_iter().collect()
}

/// Sleeps 0 to 149 ms, a different time on each run.
async fn a_varying_pause() {
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let pause = clock.unwrap_or_default().subsec_nanos() % 150;
    tokio::time::sleep(Duration::from_millis(pause.into())).await;
}

/// The orders whose cached document is not at their version in `expected` (with what
/// Redis holds), once there are none or `within` has passed.
async fn stale_in_redis(stack: &Stack, expected: &ReadModel, within: Duration) -> Vec<String> {
    let ids: Vec<&String> = expected.orders.keys().collect();
    let (_, _, prefix) = stack.live_generation().await.expect("a live generation");
    let keys: Vec<String> = ids.iter().map(|id| format!("{prefix}order:{id}")).collect();
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + within;
    loop {
        let docs: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
        let stale: Vec<String> = ids
            .iter()
            .zip(&docs)
            .filter(|(id, doc)| {
                let version = doc
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .and_then(|d| d["version"].as_i64());
                version != Some(expected.orders[**id].version)
            })
            .map(|(id, doc)| format!("{id}: {doc:?}"))
            .collect();
        if stale.is_empty() || Instant::now() >= deadline {
            return stale;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
