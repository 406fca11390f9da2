//! A notifier killed with SIGKILL in the middle of a burst loses nothing: after a restart
//! every notice reaches the receiver at least once, each under its event's id.

use crate::support::{Harness, all_signed, eventually, every_notice, lifecycle};
use orderflow_outbox::Channel;
use orderflow_testkit::WebhookReceiver;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The notifier binary on `harness`'s stack, listening on `listen`.
pub(crate) fn spawn_notifier_on(harness: &Harness, listen: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_notifier"))
        .args(harness.args())
        .args(["--listen", listen])
        // A short lease: what the killed process had in flight is sent again soon.
        .args(["--lease-ms", "1000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the notifier binary starts")
}

fn spawn_notifier(harness: &Harness) -> Child {
    spawn_notifier_on(harness, "127.0.0.1:0")
}

#[tokio::test]
async fn a_notifier_killed_mid_burst_loses_nothing_and_resends_under_the_same_ids() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(0).await;
    let mut first = spawn_notifier(&harness);
    harness.wait_for_outbox().await;
    let (_, secret) = harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    let secret = secret.unwrap();
    let events: Vec<_> = (0..150)
        .flat_map(|n| lifecycle(&format!("o-{n}"), "c-1"))
        .collect();
    let (before, after) = events.split_at(300);

    harness.append(before).await;
    eventually(Duration::from_secs(60), "the first notices", || async {
        (receiver.accepted().len() >= 50).then_some(())
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = receiver.accepted().len();
    // The burst goes on while no notifier runs.
    harness.append(after).await;
    let mut second = spawn_notifier(&harness);

    let (got, expected) = every_notice(&receiver, &events).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(
        at_kill < events.len(),
        "the kill came after the burst was delivered"
    );
    assert_eq!(
        got, expected,
        "every notice arrives, under its event's id, and nothing else"
    );
    assert!(all_signed(&receiver, &secret));
}
