//! The real `projector rebuild`, killed with SIGKILL half way and run again, resumes the
//! same generation from its stored offsets, then switches, and the result verifies.

use crate::backlog::given_a_backlog;
use crate::children::{Projector, child_env};
use crate::helpers::{Stack, TestProjector, order_id, spawn_projector, wait_until};
use orderflow_projector::tools::verify::verify;
use std::process::ExitStatus;
use std::time::Duration;

const ORDERS: usize = 3_000;
/// The child's command line.
const REBUILD: &[&str] = &["rebuild", "--progress", "log"];

#[tokio::test]
async fn a_rebuild_killed_half_way_resumes_from_its_stored_offsets_and_then_switches() {
    let stack = Stack::start().await;
    let total = given_a_backlog(&stack, ORDERS).await.len() as i64;
    let live = a_live_projector_that_folded(&stack, total).await;
    let (first, _, _) = stack.live_generation().await.unwrap();

    let env = child_env(&stack);
    let mut killed = Projector::start_with(&env, REBUILD, None);
    let building = format!("orderflow_g{}", first + 1);
    let offsets = || async { stack.offsets_of(&building).await.into_iter().collect() };
    let within = Duration::from_secs(60);
    let at_kill: i64 = killed
        .wait_a_quarter_in("the rebuild", total, within, offsets)
        .await
        .values()
        .sum();
    killed.kill();
    let resumed_at: i64 = stack.offsets_of(&building).await.values().sum();
    assert!(resumed_at >= at_kill && resumed_at < total);
    assert_eq!(
        stack.live_generation().await.unwrap().0,
        first,
        "readers kept the old generation"
    );

    let (status, stdout) = rebuild_to_its_end(&env).await;
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
    let folded = records_folded(report);
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

/// A live projector on `stack`, once it folded the `total` records of its backlog.
async fn a_live_projector_that_folded(stack: &Stack, total: i64) -> TestProjector {
    let live = spawn_projector(stack.settings()).await;
    let within = Duration::from_secs(90);
    wait_until("the live projector folded the backlog", within, || async {
        stack.stored_offsets().await.values().sum::<i64>() >= total
    })
    .await;
    live
}

/// Runs `projector rebuild` to its end; returns how it exited and its standard output.
async fn rebuild_to_its_end(env: &[(&'static str, String)]) -> (ExitStatus, String) {
    let output = std::env::temp_dir().join(format!("rebuild-{}.out", order_id()));
    let mut resumed = Projector::start_with(env, REBUILD, Some(&output));
    let status = resumed.finish(Duration::from_secs(120)).await;
    let stdout = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&output);
    (status, stdout)
}

/// The records folded, from the rebuild's report line (`generation <id>: <records> …`).
fn records_folded(report: &str) -> i64 {
    report
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected report: {report}"))
}
