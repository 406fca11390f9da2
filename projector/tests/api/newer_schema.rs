//! Rolling upgrades: events written with a newer schema than the projector knows. A
//! compatible one is read with the projector's own schema; an incompatible one is parked in
//! the DLQ with a clear reason, and the projection goes on.

use crate::helpers::{Stack, event, order_id, placed, read_topic, spawn_projector};
use crate::wire::framed;
use apache_avro::types::Value;
use serde_json::json;

/// `OrderPacked` as a future version might write it, with `warehouse` of type `kind`, plus
/// a field this code has never seen.
fn future_packed(kind: &str) -> String {
    json!({
        "type": "record", "name": "OrderPacked", "namespace": "com.orderflow.events",
        "fields": [
            {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "order_id", "type": "string"},
            {"name": "version", "type": "long"},
            {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "idempotency_key", "type": ["null", "string"], "default": null},
            {"name": "correlation_id", "type": ["null", "string"], "default": null},
            {"name": "warehouse", "type": kind},
            {"name": "dock", "type": "string", "default": "A"}
        ]
    })
    .to_string()
}

/// Registers `schema` under the OrderPacked subject (level NONE, as a careless producer
/// could) and returns Confluent-framed bytes of a packed event for `order` at version 2.
async fn encode_future(stack: &Stack, schema: &str, order: &str, warehouse: Value) -> Vec<u8> {
    let name = "com.orderflow.events.OrderPacked";
    let subject = format!("{}-{name}", stack.topic);
    stack.registry.set_level(&subject, "NONE").await;
    let id = stack.register_schema(name, schema).await;
    let record = Value::Record(vec![
        ("event_id".into(), Value::Uuid(uuid::Uuid::new_v4())),
        ("order_id".into(), Value::String(order.into())),
        ("version".into(), Value::Long(2)),
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
        ("warehouse".into(), warehouse),
        ("dock".into(), Value::String("B".into())),
    ]);
    framed(id, schema, record)
}

#[tokio::test]
async fn events_written_with_a_newer_schema_are_read_or_parked_never_fatal() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (compatible, incompatible) = (order_id(), order_id());
    stack
        .append(&[
            event(&compatible, 1, 0, placed(&[("sku-1", 1, "1")])),
            event(&incompatible, 1, 1, placed(&[("sku-1", 1, "1")])),
        ])
        .await;
    let newer = encode_future(
        &stack,
        &future_packed("string"),
        &compatible,
        Value::String("AMS-9".into()),
    )
    .await;
    stack.produce(compatible.as_bytes(), &newer).await;
    let broken = encode_future(
        &stack,
        &future_packed("long"),
        &incompatible,
        Value::Long(9),
    )
    .await;
    stack.produce(incompatible.as_bytes(), &broken).await;
    stack.wait_projected().await;

    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT order_id, status, warehouse FROM orders")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert!(
        rows.contains(&(compatible.clone(), "packed".into(), Some("AMS-9".into()))),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(incompatible.clone(), "placed".into(), None)),
        "{rows:?}"
    );
    let dlq = read_topic(&format!("{}.dlq", stack.topic)).await;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq[0].key.as_deref(), Some(incompatible.as_bytes()));
    assert!(
        dlq[0].headers["error"].contains("reader schema"),
        "{:?}",
        dlq[0].headers
    );
    projector.shutdown().await;
}
