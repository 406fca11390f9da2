//! Two notifier processes in one consumer group share the log's partitions and the
//! deliveries; one killed with SIGKILL in the middle of a burst leaves its partitions and
//! the deliveries it had claimed to the other. Every notice arrives under its event's id,
//! and every delivery ends recorded as delivered.

use crate::crash::spawn_notifier_on;
use crate::support::{Harness, all_signed, eventually, every_notice, lifecycle};
use orderflow_outbox::Channel;
use orderflow_testkit::WebhookReceiver;
use std::time::Duration;

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Waits until the notifier at `address` holds partitions of the group.
async fn holds_partitions(address: &str) {
    let url = format!("http://{address}/readyz");
    eventually(Duration::from_secs(40), &url, || async {
        let body: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
        (body["partitions"].as_u64()? > 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn two_notifiers_share_the_work_and_one_killed_mid_burst_loses_nothing() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(0).await;
    let (first_at, second_at) = (free_address(), free_address());
    let mut first = spawn_notifier_on(&harness, &first_at);
    let mut second = spawn_notifier_on(&harness, &second_at);
    harness.wait_for_outbox().await;
    let (_, secret) = harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    holds_partitions(&first_at).await;
    holds_partitions(&second_at).await;
    let events: Vec<_> = (0..150)
        .flat_map(|n| lifecycle(&format!("o-{n}"), "c-1"))
        .collect();

    harness.append(&events).await;
    eventually(Duration::from_secs(60), "the first notices", || async {
        (receiver.accepted().len() >= 50).then_some(())
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();

    let (got, expected) = every_notice(&receiver, &events).await;
    assert_eq!(got, expected);
    eventually(
        Duration::from_secs(30),
        "every delivery recorded",
        || async {
            let states = harness.delivery_states().await;
            let done =
                states.len() == expected.len() && states.iter().all(|(_, s)| s == "delivered");
            done.then_some(())
        },
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(all_signed(&receiver, &secret.unwrap()));
}
