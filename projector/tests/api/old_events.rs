//! Events written before a schema change (OrderPlaced v1 without `currency`, OrderShipped
//! v1 without `estimated_delivery`) stay in the log forever: the projector reads them with
//! the newest schemas and the defaults.

use crate::helpers::{Stack, event, order_id, packed, placed, shipped, spawn_projector};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use orderflow_schemas::WireEvent;
use serde_json::json;

/// Confluent-framed bytes of `event` written with the v1 schema of its type, registered
/// under the topic's subject as the producer of that time did.
pub(crate) async fn written_with_v1(
    stack: &Stack,
    event: &orderflow_domain::Event,
    v1: &str,
    dropped: &str,
) -> Vec<u8> {
    let wire = WireEvent::from(event);
    let name = wire.body.event_type().full_name();
    let registered: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{}-{name}/versions",
            stack.registry.url, stack.topic
        ))
        .json(&json!({ "schema": v1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["id"].as_u64().expect("v1 registered") as u32;
    let Value::Record(mut fields) = wire.to_value() else {
        unreachable!()
    };
    fields.retain(|(field, _)| field != dropped);
    let schema = apache_avro::Schema::parse_str(v1).unwrap();
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend(
        GenericDatumWriter::builder(&schema)
            .build()
            .unwrap()
            .write_value_to_vec(Value::Record(fields))
            .unwrap(),
    );
    bytes
}

#[tokio::test]
async fn events_written_with_v1_schemas_are_projected_with_the_defaults() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let id = order_id();
    let placed_v1 = written_with_v1(
        &stack,
        &event(&id, 1, 0, placed(&[("sku-1", 2, "25.99")])),
        include_str!("../../../schemas/avro/OrderPlaced/v1.avsc"),
        "currency",
    )
    .await;
    let shipped_v1 = written_with_v1(
        &stack,
        &event(&id, 3, 2, shipped()),
        include_str!("../../../schemas/avro/OrderShipped/v1.avsc"),
        "estimated_delivery",
    )
    .await;
    stack.produce(id.as_bytes(), &placed_v1).await;
    stack.append(&[event(&id, 2, 1, packed())]).await;
    stack.produce(id.as_bytes(), &shipped_v1).await;
    stack.wait_projected().await;

    let row: (String, i64, String, Option<chrono::NaiveDate>, String) = sqlx::query_as(
        "SELECT status, version, currency, estimated_delivery, total_amount::text FROM orders WHERE order_id = $1",
    )
    .bind(&id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("shipped".into(), 3, "USD".into(), None, "51.98".into())
    );
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM order_history WHERE order_id = $1")
        .bind(&id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(history, 3);
    assert_eq!(projector.status().await["dead_lettered"], 0);
    projector.shutdown().await;
}
