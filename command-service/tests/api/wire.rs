//! What lands on the topic: keys, partitions, and Avro that Confluent's own client reads.

use crate::helpers::{TestApp, brokers, spawn_app};
use orderflow_domain::EventKind;
use orderflow_platform::partition_for_key;
use serde_json::Value;
use std::process::Command;

fn python() -> String {
    std::env::var("ORDERFLOW_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/orderflow/venv/bin/python")
    })
}

#[tokio::test]
async fn every_event_is_keyed_by_its_order_in_the_partition_kafka_would_pick() {
    let app = spawn_app().await;
    for _ in 0..12 {
        app.order_at(&["pack"]).await;
    }
    let log = app.log().await;
    assert_eq!(log.len(), 24);
    let partitions: std::collections::HashSet<i32> = log.iter().map(|r| r.partition).collect();
    assert!(partitions.len() > 1, "orders spread over partitions");
    for record in &log {
        assert_eq!(record.key, record.event.order_id.as_bytes());
        assert_eq!(record.partition, partition_for_key(&record.key, 6));
    }
}

#[tokio::test]
async fn the_partitioner_agrees_with_the_java_default_as_librdkafka_implements_it() {
    let app = spawn_app().await;
    // Keys of every length modulo 4, so murmur2's tail handling is covered.
    let keys: Vec<String> = [
        "a",
        "ab",
        "abc",
        "abcd",
        "order-1",
        "order-22",
        "order-333",
        "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/partition_keys.py"
    );
    let mut args = vec![script.to_owned(), brokers(), format!("{}.probe", app.topic)];
    // The probe topic must exist with the same partition count.
    crate::helpers::create_topic(&args[2], 6).await;
    args.extend(keys.iter().cloned());
    let output = tokio::task::spawn_blocking(move || Command::new(python()).args(&args).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let placed: std::collections::HashMap<String, i32> =
        serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(placed.len(), keys.len());
    for key in &keys {
        assert_eq!(
            placed[key],
            partition_for_key(key.as_bytes(), 6),
            "key {key}"
        );
    }
}

#[tokio::test]
async fn every_record_decodes_with_confluents_python_avro_deserializer() {
    let app = spawn_app().await;
    app.order_at(&["pack", "ship", "location", "deliver"]).await;
    app.order_at(&["cancel"]).await;
    let ours = app.log().await;

    let theirs = decoded_by_python(&app).await;
    assert_eq!(theirs.len(), ours.len());

    let mut schema_ids = std::collections::HashSet::new();
    for (mine, decoded) in ours.iter().zip(&theirs) {
        let v = &decoded["value"];
        assert_eq!(
            (decoded["partition"].as_i64(), decoded["offset"].as_i64()),
            (Some(mine.partition as i64), Some(mine.offset))
        );
        assert_eq!(decoded["key"], mine.event.order_id);
        assert_eq!(v["event_id"], mine.event.meta.event_id.to_string());
        assert_eq!(v["order_id"], mine.event.order_id);
        assert_eq!(v["version"], mine.event.version);
        assert_eq!(v["occurred_at"], mine.event.meta.occurred_at.0);
        schema_ids.insert(decoded["schema_id"].as_i64().unwrap());
        then_the_body_matches(&mine.event.kind, v);
    }
    assert_eq!(schema_ids.len(), 6, "one schema per event type");
}

/// Every record of the app's topic as Confluent's Python `AvroDeserializer` decodes it,
/// in log order per partition.
async fn decoded_by_python(app: &TestApp) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/decode_topic.py");
    let (topic, registry) = (app.topic.clone(), app.registry.url.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .args([script, &brokers(), &registry, &topic])
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        let python = python();
        panic!("cannot run {python} (run scripts/test.sh to install it): {e}")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed: {stderr}");
    let mut theirs: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    theirs.sort_by_key(|r| (r["partition"].as_i64(), r["offset"].as_i64()));
    theirs
}

/// The fields of each event type as Python decoded them (`v`) hold what was written.
fn then_the_body_matches(kind: &EventKind, v: &Value) {
    match kind {
        EventKind::Placed(p) => {
            assert_eq!(v["total_amount"], p.total_amount.to_string());
            assert_eq!(v["items"][0]["unit_price"], "25.99");
            assert_eq!(v["items"][1]["unit_price"], "5.50");
            assert_eq!(v["items"][0]["quantity"], 2);
            assert_eq!(v["customer_id"], p.customer_id);
        }
        EventKind::Shipped {
            carrier,
            tracking_number,
            ..
        } => {
            assert_eq!(
                (&v["carrier"], &v["tracking_number"]),
                (
                    &Value::from(carrier.as_str()),
                    &Value::from(tracking_number.as_str())
                )
            );
        }
        EventKind::Cancelled { reason } => assert_eq!(v["cancel_reason"], reason.as_str()),
        _ => {}
    }
}
