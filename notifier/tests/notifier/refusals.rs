//! A batch Postgres refuses for what one of its records holds is written one record at a
//! time: the refused record is passed as unwritable (logged and counted) and every other
//! one is folded and delivered; the fold never stops on it.

use crate::support::{Harness, eventually, lifecycle};
use orderflow_outbox::Channel;
use orderflow_testkit::WebhookReceiver;
use std::time::Duration;

#[tokio::test]
async fn a_record_postgres_refuses_is_passed_and_the_rest_of_its_batch_is_delivered() {
    let harness = Harness::new().await;
    let receiver = WebhookReceiver::start(0).await;
    let _notifier = harness.start(&[]).await;
    // A constraint stands in for any content Postgres will never store.
    sqlx::query(
        "ALTER TABLE notifier.orders ADD CONSTRAINT no_poison CHECK (order_id <> 'o-poison')",
    )
    .execute(&harness.db)
    .await
    .unwrap();
    harness
        .subscribe(Channel::Webhook, None, &receiver.url)
        .await;
    let mut events = lifecycle("o-poison", "c-1");
    events.truncate(1);
    events.extend(lifecycle("o-1", "c-1"));

    harness.append(&events).await;

    eventually(Duration::from_secs(30), "o-1's four notices", || async {
        (receiver.accepted().len() == 4).then_some(())
    })
    .await;
    let orders: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|b| b["data"]["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orders, ["o-1"; 4]);
    let (folded,): (Option<i64>,) =
        sqlx::query_as("SELECT sum(next_offset)::bigint FROM notifier.offsets")
            .fetch_one(&harness.db)
            .await
            .unwrap();
    assert_eq!(folded, Some(5), "the refused record's offset is passed too");
}
