//! The codec against a registry that has lost the log's schemas: no poison, and it goes
//! on by itself once the registry knows the schema again.

use crate::helpers::Subject;
use orderflow_domain::{Event, EventKind, EventMeta, Timestamp};
use orderflow_schemas::{CodecError, EventCodec, EventType, RegistryArgs, subject_for};
use orderflow_testkit::Registry;

fn cancelled() -> Event {
    Event {
        order_id: "ord-registry".into(),
        version: 2,
        meta: EventMeta {
            event_id: uuid::Uuid::new_v4(),
            occurred_at: Timestamp(1_767_261_600_000),
            idempotency_key: None,
            correlation_id: None,
        },
        kind: EventKind::Cancelled {
            reason: "lost and found".into(),
        },
    }
}

#[tokio::test]
async fn a_schema_id_the_registry_lacks_is_unknown_until_the_registry_learns_it() {
    let subject = Subject::new();
    let writer = RegistryArgs::new(&subject.registry.url).settings();
    let event = cancelled();
    let mut record = EventCodec::new(&writer, &subject.topic)
        .unwrap()
        .encode(&event)
        .await
        .unwrap();
    // A fresh registry gives its first schema id 1: the record says it was written so.
    record[1..5].copy_from_slice(&1u32.to_be_bytes());
    let mut lost = Registry::start_own(0).await;
    let reader = EventCodec::new(&RegistryArgs::new(&lost.url).settings(), &subject.topic);
    let reader = reader.unwrap();

    let error = reader.decode(&record).await.unwrap_err();
    assert!(
        matches!(error, CodecError::UnknownSchema { id: 1 }),
        "{error}"
    );
    assert!(!error.is_poison() && !error.is_transient(), "{error}");

    // The registry is restored: the same codec asks again and reads the record.
    let name = subject_for(&subject.topic, EventType::OrderCancelled);
    let url = format!("{}/subjects/{name}/versions", lost.url);
    let schema = serde_json::json!({ "schema": EventType::OrderCancelled.schema_source() });
    let response = subject.client.post(url).json(&schema).send().await.unwrap();
    let registered: serde_json::Value = response.json().await.unwrap();
    assert_eq!(registered["id"], 1, "{registered}");
    assert_eq!(reader.decode(&record).await.unwrap(), event);
    lost.stop();
}
