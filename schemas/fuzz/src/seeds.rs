//! Writes the seed corpus of the `decode` target: one real event per writer schema kept
//! under `schemas/avro`, in the shape of that version and framed with the schema id the
//! target gives it (its index in `schema_versions`). Each seed is checked to decode.
//!
//! `cargo run --bin seeds -- <dir>` (default `seeds/decode`).

use apache_avro::Schema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use orderflow_schemas::{
    EventType, ReadPlan, WireBody, WireEnvelope, WireEvent, WireItem, schema_versions,
};
use rust_decimal::Decimal;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or("seeds/decode".into()));
    std::fs::create_dir_all(&dir).expect("seed directory");
    for (id, (event_type, version, source)) in schema_versions().enumerate() {
        let schema = Schema::parse_str(source).expect("a known schema parses");
        let value = shaped_as(&schema, sample(event_type).to_value());
        let datum = GenericDatumWriter::builder(&schema)
            .build()
            .and_then(|writer| writer.write_value_to_vec(value))
            .unwrap_or_else(|e| panic!("{event_type:?} v{version}: {e}"));
        let mut frame = vec![0];
        frame.extend_from_slice(&(id as u32).to_be_bytes());
        frame.extend_from_slice(&datum);
        ReadPlan::new(id as u32, &schema)
            .and_then(|plan| plan.decode(&frame[5..]))
            .unwrap_or_else(|e| panic!("the seed of {event_type:?} v{version} decodes: {e}"));
        let path = dir.join(format!("{}-v{version}", event_type.name()));
        std::fs::write(&path, frame).expect("seed written");
        println!("{}", path.display());
    }
}

/// The current record reshaped as `schema` has it: fields that version lacks dropped, and
/// the one rename so far (`cancel_reason` was `reason` in OrderCancelled v1) undone.
fn shaped_as(schema: &Schema, value: Value) -> Value {
    let (Schema::Record(record), Value::Record(fields)) = (schema, value) else {
        unreachable!("every event is a record");
    };
    let fields = fields
        .into_iter()
        .map(|(name, v)| match name.as_str() {
            "cancel_reason" if record.lookup.contains_key("reason") => ("reason".to_owned(), v),
            _ => (name, v),
        })
        .filter(|(name, _)| record.lookup.contains_key(name))
        .collect();
    Value::Record(fields)
}

fn sample(event_type: EventType) -> WireEvent {
    let money = |s: &str| s.parse::<Decimal>().expect("a decimal");
    let body = match event_type {
        EventType::OrderPlaced => WireBody::OrderPlaced {
            customer_id: "customer-1".into(),
            items: vec![
                WireItem {
                    product_id: "sku-1".into(),
                    quantity: 2,
                    unit_price: money("25.99"),
                },
                WireItem {
                    product_id: "sku-2".into(),
                    quantity: 1,
                    unit_price: money("1.28"),
                },
            ],
            shipping_address: "1 Main St".into(),
            total_amount: money("53.26"),
            currency: "USD".into(),
        },
        EventType::OrderPacked => WireBody::OrderPacked {
            warehouse: "ams-1".into(),
        },
        EventType::OrderShipped => WireBody::OrderShipped {
            carrier: "dhl".into(),
            tracking_number: "TRK-1".into(),
            estimated_delivery: Some(20_000),
        },
        EventType::OrderLocationUpdated => WireBody::OrderLocationUpdated {
            location: "Utrecht".into(),
        },
        EventType::OrderDelivered => WireBody::OrderDelivered,
        EventType::OrderCancelled => WireBody::OrderCancelled {
            reason: "changed mind".into(),
        },
    };
    WireEvent {
        envelope: WireEnvelope {
            event_id: uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
            order_id: "order-1".into(),
            version: if event_type == EventType::OrderPlaced {
                1
            } else {
                2
            },
            occurred_at: 1_750_000_000_000,
            idempotency_key: Some("key-1".into()),
            correlation_id: None,
        },
        body,
    }
}
