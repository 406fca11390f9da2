//! The rebuild folds whatever is in the log with the shared rule: foreign duplicates,
//! conflicting appends and undecodable records never corrupt the state.

use crate::helpers::{brokers, expect_json, spawn_app};
use orderflow_domain::{EventKind, Timestamp};
use orderflow_platform::partition_for_key;
use orderflow_schemas::{EventCodec, RegistrySettings};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

async fn append(topic: &str, key: &str, payload: &[u8]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(payload)
        .partition(partition_for_key(key.as_bytes(), 6));
    producer
        .send(record, Duration::from_secs(5))
        .await
        .expect("appended");
}

#[tokio::test]
async fn conflicting_and_undecodable_records_are_ignored_by_the_rebuild() {
    let app = spawn_app().await;
    let id = app.order_at(&["pack"]).await;
    let log = app.log().await;
    let codec = EventCodec::new(
        &RegistrySettings {
            url: app.registry.url.clone(),
            timeout: Duration::from_secs(5),
            basic_auth: None,
        },
        &app.topic,
    )
    .unwrap();

    // Another writer's version 2 (cancelled) lands after ours (packed): it must lose.
    let mut conflicting = log[1].event.clone();
    conflicting.meta.event_id = Uuid::new_v4();
    conflicting.meta.occurred_at = Timestamp(conflicting.meta.occurred_at.0 + 1);
    conflicting.kind = EventKind::Cancelled {
        reason: "other writer".into(),
    };
    append(&app.topic, &id, &codec.encode(&conflicting).await.unwrap()).await;
    // An exact duplicate of version 2, and bytes that are not an event at all.
    append(&app.topic, &id, &codec.encode(&log[1].event).await.unwrap()).await;
    append(&app.topic, &id, b"not avro at all").await;
    // Confluent framing with a schema id the registry does not know: poison, not transient.
    append(&app.topic, &id, &[0, 0, 0, 0x7f, 0xff, 2, 4]).await;

    let app = app.restart().await;
    let order = expect_json(
        app.client
            .get(app.url(&format!("/orders/{id}")))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (order["status"].as_str(), order["version"].as_u64()),
        (Some("packed"), Some(2))
    );
    // And it keeps deciding from the state the log gives.
    let shipped = app
        .post(
            &format!("/orders/{id}/ship"),
            &serde_json::json!({"carrier": "c", "tracking_number": "t"}),
            &[],
        )
        .await;
    assert_eq!(expect_json(shipped, StatusCode::OK).await["version"], 3);
}
