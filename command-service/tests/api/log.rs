//! The command service trusts only a log with the log's shape (ADR 0010): a topic that
//! drifted is refused at start-up, and a log that disappears leaves the service not ready,
//! refusing commands, never replaying an empty log.

use crate::helpers::{Registry, TestApp, brokers, expect_json, order_body, spawn_app, spawn_with};
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::{Offset, TopicPartitionList};
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn a_topic_with_another_partition_count_is_refused_at_start_up() {
    let topic = fresh_topic();
    let three = LogSettings {
        partitions: 3,
        ..LogSettings::new(&topic)
    };
    ensure_topic(&kafka(), &three).await.unwrap();

    let message = refusal(&topic).await;
    assert!(
        message.contains("it has 3 partitions but the services are configured for 6"),
        "{message}"
    );
}

#[tokio::test]
async fn a_compacted_topic_is_refused_at_start_up() {
    let topic = fresh_topic();
    ensure_topic(&kafka(), &LogSettings::new(&topic))
        .await
        .unwrap();
    let compacted = AlterConfig::new(ResourceSpecifier::Topic(&topic))
        .set("cleanup.policy", "compact")
        .set("retention.ms", "-1")
        .set("retention.bytes", "-1");
    admin()
        .alter_configs([&compacted], &AdminOptions::new())
        .await
        .unwrap();

    let message = refusal(&topic).await;
    assert!(
        message.contains("cleanup.policy is compact, not delete"),
        "{message}"
    );
}

#[tokio::test]
async fn a_deleted_log_leaves_the_service_not_ready_and_commands_get_503() {
    let app = spawn_app().await;
    app.place_ok().await;
    admin()
        .delete_topics(&[&app.topic], &AdminOptions::new())
        .await
        .unwrap();

    wait_not_ready_because(&app, "no longer exists").await;
    let refused = app.place(&order_body(None)).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    expect_json(refused, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn records_deleted_from_the_start_of_the_log_stop_the_replay_instead_of_starting_later() {
    let app = spawn_app().await;
    app.place_ok().await;
    // Everything the log held is deleted (its start moves to its end). A restarted service
    // that started from the new start would replay into an empty state and accept commands.
    let mut everything = TopicPartitionList::new();
    for partition in 0..6 {
        everything
            .add_partition_offset(&app.topic, partition, Offset::End)
            .unwrap();
    }
    admin()
        .delete_records(&everything, &AdminOptions::new())
        .await
        .unwrap();

    let restarted = app.restart_unwaited().await;
    wait_not_ready_because(&restarted, "outside the log").await;
    let refused = restarted.place(&order_body(None)).await;
    expect_json(refused, StatusCode::SERVICE_UNAVAILABLE).await;
}

/// The error `run` ends with on `topic`.
async fn refusal(topic: &str) -> String {
    let registry = Registry::shared();
    let settings = crate::helpers::settings(&registry.url, topic);
    let app = spawn_with(settings, registry).await;
    app.exited().await.unwrap_err().to_string()
}

/// Waits until `/readyz` is 503 with a detail that says `why`.
async fn wait_not_ready_because(app: &TestApp, why: &str) {
    let mut detail = String::new();
    // librdkafka learns of a deleted topic from a metadata refresh: seconds to a minute.
    for _ in 0..1200 {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body = expect_json(ready, StatusCode::SERVICE_UNAVAILABLE).await;
            detail = body["detail"].as_str().unwrap_or_default().to_owned();
            if detail.contains(why) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never said {why:?}; last detail: {detail:?}");
}

fn fresh_topic() -> String {
    format!("orders.events.test-{}", Uuid::new_v4().simple())
}

fn kafka() -> KafkaSettings {
    KafkaSettings::new(brokers())
}

fn admin() -> AdminClient<DefaultClientContext> {
    kafka().client_config(&[]).create().unwrap()
}
