//! Several projector processes in one consumer group (issue 19): they share the log's
//! partitions, one killed with SIGKILL in the middle of a backlog leaves its partitions to
//! the other, a rebuild runs beside them and switches the survivor to the new generation,
//! and the read model ends equal to a fold of the whole log each time.
//!
//! Set `ORDERFLOW_CRASH_TEST_LOGS=1` to see the children's logs.

use crate::backlog::given_a_backlog;
use crate::children::{Projector, child_env};
use crate::crash::{decoded_log, fold_of, stored_offsets, stored_read_model_of};
use crate::helpers::Stack;
use crate::rebuild::rebuilt;
use orderflow_projector::tools::verify::compare;
use std::time::Duration;

/// Orders in the backlog (about four events each).
const ORDERS: usize = 3_000;
const WITHIN: Duration = Duration::from_secs(60);

/// The same configuration (group, topic, read model) on a port of its own.
fn beside(env: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut other: Vec<_> = env
        .iter()
        .filter(|(key, _)| *key != "ORDERFLOW_PROJECTOR_LISTEN")
        .cloned()
        .collect();
    other.push(("ORDERFLOW_PROJECTOR_LISTEN", format!("127.0.0.1:{port}")));
    other
}

/// Waits until the process configured by `env` reports partitions assigned to it (its
/// `/readyz`).
async fn assigned_partitions(env: &[(&'static str, String)]) {
    let listen = &env
        .iter()
        .find(|(k, _)| *k == "ORDERFLOW_PROJECTOR_LISTEN")
        .unwrap()
        .1;
    let url = format!("http://{listen}/readyz");
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok(response) = reqwest::get(&url).await
            && let Ok(body) = response.json::<serde_json::Value>().await
            && let Some(n) = body["assigned_partitions"].as_u64()
            && n > 0
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never held a partition"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn projector_processes_share_the_log_survive_a_kill_and_follow_a_rebuild() {
    let stack = Stack::start().await;
    let env = child_env(&stack);
    let other = beside(&env);
    let mut first = Projector::start(&env);
    let mut second = Projector::start(&other);
    // Both hold partitions of the one group before the backlog comes.
    for env in [&env, &other] {
        assigned_partitions(env).await;
    }
    // One dies while the backlog comes in; the other takes its partitions over and folds
    // what arrives on them afterwards.
    given_a_backlog(&stack, ORDERS / 2).await;
    first.kill();
    given_a_backlog(&stack, ORDERS / 2).await;
    let (log, ends) = decoded_log(&stack).await;
    second
        .wait_folded_to(&ends, WITHIN, || stored_offsets(&stack))
        .await;
    let differences = compare(&fold_of(&log).0, &stored_read_model_of(&stack).await);
    assert!(differences.is_empty(), "after the kill: {differences:#?}");

    // A rebuild beside the survivor switches the read model; the survivor follows the
    // switch and folds what comes after into the new generation.
    let (before, _, _) = stack.live_generation().await.expect("a live generation");
    let report = rebuilt(&stack.settings(), false).await;
    let (after, _, _) = stack.live_generation().await.expect("a live generation");
    assert_ne!(before, after, "the rebuild switched: {report:?}");
    given_a_backlog(&stack, 50).await;
    let (log, ends) = decoded_log(&stack).await;
    second
        .wait_folded_to(&ends, WITHIN, || stored_offsets(&stack))
        .await;
    second.assert_alive();
    let differences = compare(&fold_of(&log).0, &stored_read_model_of(&stack).await);
    assert!(differences.is_empty(), "after the switch: {differences:#?}");
    second.kill();
}
