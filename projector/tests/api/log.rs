//! The projector trusts only the log it folded (ADR 0010): a topic that drifted from the
//! log's settings, was created again, or changed its partition count is refused, and a
//! log that disappears under a running projector leaves it not ready, never skipping.

use crate::helpers::{PARTITIONS, Stack, event, order_id, placed, spawn_projector};
use orderflow_platform::{KafkaSettings, ensure_log};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, NewPartitions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;

#[tokio::test]
async fn a_topic_with_finite_retention_is_refused_at_start_up() {
    let stack = Stack::start().await;
    let retention =
        AlterConfig::new(ResourceSpecifier::Topic(&stack.topic)).set("retention.ms", "604800000");
    admin()
        .alter_configs([&retention], &AdminOptions::new())
        .await
        .unwrap();

    let refused = spawn_projector(stack.settings()).await.exited().await;
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("retention.ms is 604800000, not -1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_log_deleted_and_created_again_is_refused() {
    let mut stack = folded_once().await;
    admin()
        .delete_topics(&[&stack.topic], &AdminOptions::new())
        .await
        .unwrap();
    recreate(&stack).await;
    stack
        .append(&[event(&order_id(), 1, 0, placed(&[("sku-1", 1, "3")]))])
        .await;

    let refused = spawn_projector(stack.settings()).await.exited().await;
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("deleted and created again"), "{message}");
}

#[tokio::test]
async fn a_log_whose_partition_count_changed_is_refused() {
    let stack = folded_once().await;
    let more = NewPartitions::new(&stack.topic, 4);
    admin()
        .create_partitions([&more], &AdminOptions::new())
        .await
        .unwrap();

    let mut settings = stack.settings();
    settings.log.partitions = 4;
    let refused = spawn_projector(settings).await.exited().await;
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("folded from 3 partitions, the log has 4"),
        "{message}"
    );
}

#[tokio::test]
async fn a_projector_whose_log_is_deleted_stops_and_reports_not_ready() {
    let stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    projector.wait_ready().await;
    admin()
        .delete_topics(&[&stack.topic], &AdminOptions::new())
        .await
        .unwrap();

    // librdkafka learns of the deletion from a metadata refresh: seconds to a minute.
    for _ in 0..1200 {
        let status = projector.status().await;
        if status["ready"] == false {
            let failure = status["log_failure"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(failure.contains("no longer exists"), "{status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the projector still reports ready on a deleted log");
}

#[tokio::test]
async fn records_deleted_ahead_of_the_stored_offsets_stop_the_projector_instead_of_skipping() {
    let mut stack = folded_once().await;
    // Appended while the projector is away, then deleted with everything before it: the
    // stored offsets now lie before the log's start, and that record was never folded.
    stack
        .append(&[event(&order_id(), 1, 0, placed(&[("sku-2", 1, "5")]))])
        .await;
    let mut everything = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        everything
            .add_partition_offset(&stack.topic, partition, Offset::End)
            .unwrap();
    }
    admin()
        .delete_records(&everything, &AdminOptions::new())
        .await
        .unwrap();

    let projector = spawn_projector(stack.settings()).await;
    for _ in 0..300 {
        let status = projector.status().await;
        let failure = status["log_failure"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if failure.contains("outside the log") {
            assert_eq!(status["ready"], false, "{status}");
            assert_eq!(
                status["applied"], 0,
                "nothing folded past the gap: {status}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the projector did not stop on a log that lost records it never folded");
}

/// A stack whose projector folded one event and stopped.
async fn folded_once() -> Stack {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    stack
        .append(&[event(&order_id(), 1, 0, placed(&[("sku-1", 1, "3")]))])
        .await;
    stack.wait_projected().await;
    projector.shutdown().await;
    stack
}

/// Creates the stack's topic again once the broker has finished deleting it.
async fn recreate(stack: &Stack) {
    let settings = stack.settings();
    let kafka = KafkaSettings::new(crate::helpers::brokers());
    for _ in 0..100 {
        if ensure_log(&kafka, &settings.log).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the topic could not be created again");
}

fn admin() -> AdminClient<DefaultClientContext> {
    KafkaSettings::new(crate::helpers::brokers())
        .client_config(&[])
        .create()
        .unwrap()
}
