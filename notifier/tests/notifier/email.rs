//! Email through the notifier to a real SMTP server (Mailpit, STARTTLS required).

use crate::mailpit::{mailpit, messages};
use crate::support::{Harness, eventually, lifecycle};
use orderflow_outbox::Channel;
use std::time::Duration;

#[tokio::test]
async fn every_status_change_of_an_order_reaches_its_customers_inbox_under_the_events_id() {
    let Some(mailpit) = mailpit().await else {
        return;
    };
    let harness = Harness::new().await;
    let ca = mailpit.ca.to_str().unwrap().to_owned();
    let _notifier = harness
        .start(&["--smtp-url", &mailpit.url(), "--smtp-ca-file", &ca])
        .await;
    harness
        .subscribe(Channel::Email, Some("c-1"), "alice@example.com")
        .await;
    // Another customer's order tells alice nothing.
    harness
        .subscribe(Channel::Email, Some("c-2"), "bob@example.com")
        .await;
    let events = lifecycle("o-1", "c-1");

    harness.append(&events).await;

    let held = eventually(Duration::from_secs(30), "four emails", || async {
        let held = messages(&mailpit).await?;
        (held["total"] == 4).then_some(held)
    })
    .await;
    let mut subjects: Vec<String> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for message in held["messages"].as_array().unwrap() {
        assert_eq!(message["To"][0]["Address"], "alice@example.com");
        subjects.push(message["Subject"].as_str().unwrap().to_owned());
        ids.push(message["MessageID"].as_str().unwrap().to_owned());
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "We have your order o-1",
            "Your order o-1 is on its way",
            "Your order o-1 is packed",
            "Your order o-1 was delivered",
        ]
    );
    let mut expected: Vec<String> = events
        .iter()
        .map(|e| format!("{}@orderflow", e.meta.event_id))
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}
