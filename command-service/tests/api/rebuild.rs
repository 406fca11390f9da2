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

/// Confluent-framed bytes of an `OrderShipped` written with schema v1 (before
/// `estimated_delivery` existed), registered under the topic's subject as an old producer
/// would have.
async fn order_shipped_v1(registry: &str, topic: &str, order_id: &str, version: i64) -> Vec<u8> {
    use apache_avro::types::Value;
    let source = include_str!("../../../schemas/avro/OrderShipped/v1.avsc");
    let subject = format!("{topic}-com.orderflow.events.OrderShipped");
    let registered: serde_json::Value = reqwest::Client::new()
        .post(format!("{registry}/subjects/{subject}/versions"))
        .json(&serde_json::json!({ "schema": source }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["id"].as_u64().expect("v1 registered") as u32;
    let schema = apache_avro::Schema::parse_str(source).unwrap();
    let record = Value::Record(vec![
        ("event_id".into(), Value::Uuid(Uuid::new_v4())),
        ("order_id".into(), Value::String(order_id.into())),
        ("version".into(), Value::Long(version)),
        (
            "occurred_at".into(),
            Value::TimestampMillis(1_767_261_600_000),
        ),
        (
            "idempotency_key".into(),
            Value::Union(0, Box::new(Value::Null)),
        ),
        (
            "correlation_id".into(),
            Value::Union(0, Box::new(Value::Null)),
        ),
        ("carrier".into(), Value::String("DHL".into())),
        ("tracking_number".into(), Value::String("OLD-1".into())),
    ]);
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .unwrap();
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend(writer.write_value_to_vec(record).unwrap());
    bytes
}

#[tokio::test]
async fn an_order_shipped_written_with_schema_v1_is_read_by_the_rebuild() {
    let app = spawn_app().await;
    let id = app.order_at(&["pack"]).await;
    let old = order_shipped_v1(&app.registry.url, &app.topic, &id, 3).await;
    append(&app.topic, &id, &old).await;

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
        (Some("shipped"), Some(3))
    );
    let log = app.log().await;
    let EventKind::Shipped {
        estimated_delivery,
        tracking_number,
        ..
    } = &log[2].event.kind
    else {
        panic!("not shipped")
    };
    assert_eq!(
        (estimated_delivery, tracking_number.as_str()),
        (&None, "OLD-1")
    );
    let delivered = app
        .post(
            &format!("/orders/{id}/deliver"),
            &serde_json::json!({}),
            &[],
        )
        .await;
    assert_eq!(expect_json(delivered, StatusCode::OK).await["version"], 4);
}
