//! The real `projector rebuild`, killed with SIGKILL half way and run again, resumes the
//! same generation from its stored offsets, then switches, and the result verifies.

use crate::crash::{Projector, backlog, child_env, produce_batched};
use crate::helpers::{Stack, order_id, spawn_projector};
use orderflow_projector::tools::verify::verify;
use std::time::{Duration, Instant};

const ORDERS: usize = 3_000;

#[tokio::test]
async fn a_rebuild_killed_half_way_resumes_from_its_stored_offsets_and_then_switches() {
    let stack = Stack::start().await;
    let ids: Vec<String> = (0..ORDERS).map(|_| order_id()).collect();
    let events = backlog(&ids);
    produce_batched(&stack, &events).await;
    let total = events.len() as i64;
    let live = spawn_projector(stack.settings()).await;
    wait_until("the live projector folded the backlog", 90, || async {
        stack.stored_offsets().await.values().sum::<i64>() >= total
    })
    .await;
    let (first, _, _) = stack.live_generation().await.unwrap();

    let env = child_env(&stack);
    let mut killed = Projector::start_with(&env, &["rebuild", "--progress", "log"], None);
    let building = format!("orderflow_g{}", first + 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        killed.assert_alive();
        let done: i64 = stack.offsets_of(&building).await.values().sum();
        assert!(
            done < total,
            "the rebuild finished before it could be killed"
        );
        if done >= total / 4 {
            break done;
        }
        assert!(
            Instant::now() < deadline,
            "the rebuild did not get a quarter in"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    killed.kill();
    let resumed_at: i64 = stack.offsets_of(&building).await.values().sum();
    assert!(resumed_at >= at_kill && resumed_at < total);
    assert_eq!(
        stack.live_generation().await.unwrap().0,
        first,
        "readers kept the old generation"
    );

    let output = std::env::temp_dir().join(format!("rebuild-{}.out", order_id()));
    let mut resumed = Projector::start_with(&env, &["rebuild", "--progress", "log"], Some(&output));
    let status = resumed.finish(Duration::from_secs(120)).await;
    let stdout = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&output);
    assert!(
        status.success(),
        "the resumed rebuild failed: {status} {stdout}"
    );
    let report = stdout
        .lines()
        .find(|l| l.starts_with("generation "))
        .unwrap_or_else(|| panic!("no report in: {stdout}"));
    let (live_now, _, _) = stack.live_generation().await.unwrap();
    assert_eq!(
        live_now,
        first + 1,
        "the interrupted generation was resumed, not a new one"
    );
    let folded: i64 = report
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected report: {report}"));
    assert!(
        folded <= total - resumed_at,
        "the second run folded {folded} records, more than the {} left after {resumed_at}: {report}",
        total - resumed_at
    );
    let report = verify(&stack.settings()).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.records as i64, total);
    live.shutdown().await;
}

async fn wait_until<F, Fut>(what: &str, secs: u64, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
