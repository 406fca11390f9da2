//! The owner directory of ADR 0015 against the real broker: two members of one consumer
//! group, each with its base URL as its `client.id`, and the group's description tells
//! which of them owns each partition, exactly as each member sees its own assignment.

use crate::helpers::brokers;
use orderflow_command_service::ownership::directory::describe;
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn member(kafka: &KafkaSettings, group: &str, url: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = kafka
        .client_config(&[
            ("group.id", group),
            ("client.id", url),
            ("enable.auto.commit", "false"),
            ("session.timeout.ms", "6000"),
        ])
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// The partitions `consumer` holds once the group has settled with both members.
fn own_partitions(consumer: &BaseConsumer) -> Vec<i32> {
    let assignment = consumer.assignment().unwrap();
    let mut partitions: Vec<i32> = assignment
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    partitions.sort_unstable();
    partitions
}

#[tokio::test]
async fn the_group_description_names_the_owner_of_every_partition() {
    let kafka = KafkaSettings::new(brokers());
    let topic = format!("orders.events.test-own-{}", Uuid::new_v4().simple());
    ensure_topic(&kafka, &LogSettings::new(&topic))
        .await
        .unwrap();
    let group = format!("cs-own-{}", Uuid::new_v4().simple());
    let urls = ["http://10.0.0.1:8080", "http://10.0.0.2:8080"];
    let members = [
        member(&kafka, &group, urls[0], &topic),
        member(&kafka, &group, urls[1], &topic),
    ];

    // Poll both until they share the six partitions.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (a, b) = loop {
        for m in &members {
            m.poll(Duration::from_millis(100));
        }
        let (a, b) = (own_partitions(&members[0]), own_partitions(&members[1]));
        if !a.is_empty() && !b.is_empty() && a.len() + b.len() == 6 {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle: {a:?} {b:?}"
        );
    };

    let owners = describe(&members[0], &group, &topic, Duration::from_secs(5)).unwrap();
    let expected: BTreeMap<i32, String> = a
        .iter()
        .map(|&p| (p, urls[0].to_owned()))
        .chain(b.iter().map(|&p| (p, urls[1].to_owned())))
        .collect();
    assert_eq!(owners, expected);
}

/// `POST /orders/{id}/{step}` on `app`: the status, and whether a 503 says when to retry.
async fn step(app: &crate::helpers::TestApp, id: &str, step: &str) -> (u16, bool) {
    step_with(app, id, step, &[]).await
}

/// [`step`] with extra headers.
async fn step_with(
    app: &crate::helpers::TestApp,
    id: &str,
    step: &str,
    headers: &[(&str, &str)],
) -> (u16, bool) {
    let (path, body) = crate::helpers::step_request(step);
    let response = app
        .post(&format!("/orders/{id}/{path}"), &body, headers)
        .await;
    let retry = response.headers().contains_key("retry-after");
    (response.status().as_u16(), retry)
}

#[tokio::test]
async fn two_instances_share_the_partitions_and_the_survivor_takes_them_over() {
    let mut a = crate::helpers::spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(a.place_ok().await);
    }

    // A second instance joins the group: each order is now served by exactly one of the
    // two, which replayed it. Asked not to forward (as a forwarded request is), the other
    // answers 503 with Retry-After.
    let b = a.second_instance().await;
    a.wait_ready().await;
    let local_only = [("orderflow-forwarded-by", "http://127.0.0.1:1")];
    let mut served = [0, 0];
    for id in &ids {
        let at_a = step_with(&a, id, "pack", &local_only).await;
        let at_b = step_with(&b, id, "pack", &local_only).await;
        match (at_a, at_b) {
            ((200, _), (503, true)) => served[0] += 1,
            ((503, true), (200, _)) => served[1] += 1,
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(
        served[0] > 0 && served[1] > 0,
        "the partitions are shared: {served:?}"
    );

    // The first leaves: the survivor takes its partitions over, replays them and serves
    // every order.
    a.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            match step(&b, id, "ship").await {
                (200, _) => break,
                (503, true) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                other => panic!("{id}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn any_instance_takes_any_command_and_forwards_it_to_the_owner() {
    let a = crate::helpers::spawn_app().await;
    let b = a.second_instance().await;
    a.wait_ready().await;

    // Keyed placements derive their ids from the key: half of them belong to the other
    // instance, which the receiving one forwards them to.
    let mut ids = Vec::new();
    for n in 0..12 {
        let key = format!("k-{n}-{}", Uuid::new_v4().simple());
        let response = a
            .post(
                "/orders",
                &crate::helpers::order_body(None),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "{}",
            response.text().await.unwrap()
        );
        let body: serde_json::Value = response.json().await.unwrap();
        ids.push(body["order_id"].as_str().unwrap().to_owned());
    }
    // Every step of every order through either instance: all answered by its owner.
    for (n, id) in ids.iter().enumerate() {
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(step(first, id, "pack").await.0, 200, "{id}");
        assert_eq!(step(second, id, "ship").await.0, 200, "{id}");
    }
    // A forwarded request that reaches a non-owner is not forwarded again.
    let (path, body) = crate::helpers::step_request("deliver");
    let mut refused = 0;
    for id in &ids {
        for app in [&a, &b] {
            let forwarded = [("orderflow-forwarded-by", "http://127.0.0.1:1")];
            let response = app
                .post(&format!("/orders/{id}/{path}"), &body, &forwarded)
                .await;
            if response.status().as_u16() == 503 {
                refused += 1;
                assert!(response.headers().contains_key("retry-after"));
            }
        }
    }
    assert_eq!(
        refused,
        ids.len(),
        "each order's non-owner refused its forwarded request"
    );
    // Both kinds are counted (the process's services share one recorder: at least).
    let scraped = a.scrape().await;
    let count = |outcome| {
        scraped.or_zero(
            "orderflow_commands_forwarded_total",
            &[("outcome", outcome)],
        )
    };
    assert!(
        count("forwarded") >= ids.len() as f64,
        "{}",
        count("forwarded")
    );
    assert!(count("failed") >= ids.len() as f64, "{}", count("failed"));
}
