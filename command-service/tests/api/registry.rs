//! A registry that has no schema for an id the log holds is a lost or foreign registry,
//! not a poison record: the service stops at that record, says why, and skips nothing.

use crate::helpers::{TestApp, append, expect_json};
use orderflow_domain::{Event, EventKind, EventMeta};
use orderflow_schemas::{EventCodec, RegistryArgs};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// A Confluent-framed record whose schema id (2147483632) no registry here has given out.
const UNKNOWN_SCHEMA: [u8; 8] = [0, 0x7f, 0xff, 0xff, 0xf0, 2, 4, 6];

#[tokio::test]
async fn a_schema_id_the_registry_does_not_know_stops_its_partition_and_skips_nothing() {
    let app = crate::helpers::spawn_app().await;
    let id = app.place_ok().await;
    let packed = packed_after_placed(&app).await;
    let (partition, offset) = append(&app.topic, &id, &UNKNOWN_SCHEMA).await;
    // The order moves on after it: folded past the record, it would be packed.
    append(&app.topic, &id, &packed).await;

    let detail = stalled(&app).await;
    let at = format!(
        "partition {partition} at offset {offset}: the registry has no schema with id 2147483632"
    );
    assert!(detail.contains(&at), "{detail}");
    assert!(detail.contains("ORDERFLOW_SCHEMA_REGISTRY_URL"), "{detail}");
    // Its orders are unavailable, not served from a state that lacks an event.
    let cancel = json!({"reason": "customer request"});
    let refused = app
        .post(&format!("/orders/{id}/cancel"), &cancel, &[])
        .await;
    assert_eq!(refused.headers()["retry-after"], "1");
    expect_json(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    let inspected = app
        .client
        .get(app.url(&format!("/orders/{id}")))
        .send()
        .await;
    assert_eq!(inspected.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);

    // A restart replays up to the same record and stops there again.
    let app = app.restart_unwaited().await;
    assert!(stalled(&app).await.contains(&at));
}

/// The encoded version 2 (packed) of the one order in the log, which is placed.
async fn packed_after_placed(app: &TestApp) -> Vec<u8> {
    let placed = app.log().await.remove(0).event;
    let meta = EventMeta {
        event_id: Uuid::new_v4(),
        ..placed.meta.clone()
    };
    let warehouse = "AMS-1".to_owned();
    let packed = Event {
        version: 2,
        kind: EventKind::Packed { warehouse },
        meta,
        ..placed
    };
    let codec = EventCodec::new(&RegistryArgs::new(&app.registry.url).settings(), &app.topic);
    codec.unwrap().encode(&packed).await.unwrap()
}

/// The `/readyz` detail once the service says it stopped at a record (it says so only
/// after reading up to it).
async fn stalled(app: &TestApp) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(response) = app.client.get(app.url("/readyz")).send().await
            && response.status() == StatusCode::SERVICE_UNAVAILABLE
        {
            let body: serde_json::Value = response.json().await.unwrap();
            last = body["detail"].as_str().unwrap_or_default().to_owned();
            if last.contains("stopped at a record") {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service did not report the record it stopped at; last detail: {last}");
}
