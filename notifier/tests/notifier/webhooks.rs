//! Webhooks against a real receiver: signed, retried with backoff, kept in order per
//! order, parked on the dead-letter topic after the last attempt and retried by hand.

use crate::support::{Harness, all_signed, eventually, lifecycle};
use orderflow_outbox::Channel;
use orderflow_platform::{KafkaSettings, ReadToEnd, Span};
use orderflow_schemas::NotificationSent;
use orderflow_testkit::WebhookReceiver;
use rdkafka::Offset;
use rdkafka::message::{Headers, Message, OwnedMessage};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Every record of `topic` so far.
async fn records(topic: &str) -> Vec<OwnedMessage> {
    let spans: BTreeMap<i32, Span> = (0..6)
        .map(|p| {
            (
                p,
                Span {
                    from: Offset::Beginning,
                    until: None,
                },
            )
        })
        .collect();
    let kafka = KafkaSettings::new(crate::support::brokers());
    let mut reader = ReadToEnd::open(
        &kafka,
        &[("group.id", "nt-reader")],
        topic,
        &spans,
        Duration::from_secs(10),
    )
    .unwrap();
    let mut all = Vec::new();
    while let Some(message) = reader.next().await.unwrap() {
        all.push(message);
    }
    all
}

fn header(message: &OwnedMessage, key: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_notice_on_the_third_attempt_with_a_valid_signature() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(2).await;
    let _notifier = harness.start(&[]).await;
    let (subscription, secret) = harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    let secret = secret.unwrap();
    let placed = lifecycle("o-1", "c-1").remove(0);

    harness.append(std::slice::from_ref(&placed)).await;

    eventually(WAIT, "the notice accepted", || async {
        (!receiver.accepted().is_empty()).then_some(())
    })
    .await;
    let received = receiver.received();
    let accepted: Vec<bool> = received.iter().map(|r| r.accepted).collect();
    assert_eq!(accepted, [false, false, true]);
    assert!(all_signed(&receiver, &secret));
    let body = &received[2].body;
    assert_eq!(body["id"], placed.meta.event_id.to_string());
    assert_eq!(body["type"], "order.placed");
    assert_eq!(body["data"]["customer_id"], "c-1");
    // Every attempt is on record, and what was sent is on the outbound topic.
    let outcomes: Vec<String> = eventually(WAIT, "three attempts recorded", || async {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT outcome FROM notifier.attempts ORDER BY id")
                .fetch_all(&harness.db)
                .await
                .unwrap();
        (rows.len() == 3).then(|| rows.into_iter().map(|r| r.0).collect())
    })
    .await;
    assert_eq!(outcomes, ["failed", "failed", "delivered"]);
    let outbound = records(&harness.outbound_topic).await;
    assert_eq!(outbound.len(), 1);
    let sent = NotificationSent::from_datum(&outbound[0].payload().unwrap()[5..]).unwrap();
    assert_eq!(
        (sent.notice_id, sent.subscription_id, sent.attempt),
        (placed.meta.event_id, subscription, 3)
    );
    assert_eq!(outbound[0].key(), Some(&b"o-1"[..]));
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_in_the_dead_letter_topic_and_a_retry_by_hand_delivers() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(usize::MAX).await;
    let _notifier = harness.start(&["--max-attempts", "3"]).await;
    let (subscription, secret) = harness
        .subscribe(Channel::Webhook, Some("c-1"), &receiver.url)
        .await;
    let secret = secret.unwrap();
    let placed = lifecycle("o-1", "c-1").remove(0);
    let notice = placed.meta.event_id;

    harness.append(&[placed]).await;

    eventually(WAIT, "the delivery parked", || async {
        let states = harness.delivery_states().await;
        (states == [(notice, "parked".to_owned())]).then_some(())
    })
    .await;
    assert_eq!(receiver.received().len(), 3);
    let dead = records(&harness.dlq_topic).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0], "notice_id"), Some(notice.to_string()));
    assert_eq!(header(&dead[0], "attempts").as_deref(), Some("3"));
    assert!(header(&dead[0], "error").unwrap().contains("503"));

    receiver.set_failing(0);
    orderflow_outbox::retry_parked(&harness.db, notice, subscription)
        .await
        .unwrap();

    eventually(WAIT, "the retried delivery made", || async {
        let states = harness.delivery_states().await;
        (states == [(notice, "delivered".to_owned())]).then_some(())
    })
    .await;
    assert_eq!(receiver.accepted().len(), 1);
    assert!(all_signed(&receiver, &secret));
}

#[tokio::test]
async fn each_orders_notices_reach_a_webhook_in_version_order_even_when_attempts_fail() {
    let harness = Harness::new().await;
    // Every notice's first attempt fails: a later version must still wait for the retry.
    let receiver = WebhookReceiver::start(1).await;
    let _notifier = harness.start(&[]).await;
    let (_, secret) = harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    let secret = secret.unwrap();
    let orders = ["o-1", "o-2", "o-3"];
    let events: Vec<_> = orders.iter().flat_map(|o| lifecycle(o, "c-1")).collect();

    harness.append(&events).await;

    eventually(WAIT, "twelve notices accepted", || async {
        (receiver.accepted().len() == 12).then_some(())
    })
    .await;
    for order in orders {
        let versions: Vec<u64> = receiver
            .accepted()
            .iter()
            .filter(|b| b["data"]["order_id"] == order)
            .map(|b| b["data"]["version"].as_u64().unwrap())
            .collect();
        assert_eq!(versions, [1, 2, 3, 4], "{order}");
    }
    assert!(all_signed(&receiver, &secret));
}

#[tokio::test]
async fn events_the_fold_ignores_notify_no_one() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(0).await;
    let _notifier = harness.start(&[]).await;
    let (_, secret) = harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    let secret = secret.unwrap();
    let life = lifecycle("o-1", "c-1");
    let mut placed_again = lifecycle("o-1", "c-1").remove(0);
    placed_again.meta.event_id = uuid::Uuid::new_v4();
    // Version 1 twice (the second ignored), version 3 before 2 (ignored), then 2.
    let events = [
        life[0].clone(),
        placed_again,
        life[2].clone(),
        life[1].clone(),
    ];

    harness.append(&events).await;

    eventually(WAIT, "two notices accepted", || async {
        (receiver.accepted().len() == 2).then_some(())
    })
    .await;
    let count: (i64,) = sqlx::query_as("SELECT count(*) FROM notifier.notices")
        .fetch_one(&harness.db)
        .await
        .unwrap();
    assert_eq!(count.0, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let types: Vec<_> = receiver
        .accepted()
        .iter()
        .map(|b| b["type"].clone())
        .collect();
    assert_eq!(types, ["order.placed", "order.packed"]);
    assert!(all_signed(&receiver, &secret));
}
