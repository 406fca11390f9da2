//! The project's schema tool against this registry: registration with a level, and the
//! registry's compatibility verdict on an incompatible edit (409 when registering it).

use crate::helpers::spawn_app;
use orderflow_schemas::{CompatibilityLevel, check_with_registry, load_histories, register};

fn history_dir(versions: &[&str]) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("orderflow-tool-{}", uuid::Uuid::new_v4().simple()));
    let event = dir.join("OrderShipped");
    std::fs::create_dir_all(&event).unwrap();
    for (i, text) in versions.iter().enumerate() {
        std::fs::write(event.join(format!("v{}.avsc", i + 1)), text).unwrap();
    }
    dir
}

const V1: &str = r#"{"type":"record","name":"OrderShipped","namespace":"com.orderflow.events","fields":[{"name":"carrier","type":"string"}]}"#;
const V2_BAD: &str = r#"{"type":"record","name":"OrderShipped","namespace":"com.orderflow.events","fields":[{"name":"carrier","type":"string"},{"name":"eta","type":"long"}]}"#;
const V2_GOOD: &str = r#"{"type":"record","name":"OrderShipped","namespace":"com.orderflow.events","fields":[{"name":"carrier","type":"string"},{"name":"eta","type":["null","long"],"default":null}]}"#;

#[tokio::test]
async fn the_schema_tool_registers_with_a_level_and_the_registry_rejects_an_incompatible_edit() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let topic = "orders.events";
    let v1 = load_histories(&history_dir(&[V1])).unwrap();
    let id = register(
        &client,
        &app.address,
        topic,
        &v1[0],
        CompatibilityLevel::FullTransitive,
    )
    .await
    .unwrap();
    assert!(id > 0);
    let level = app
        .get("/config/orders.events-com.orderflow.events.OrderShipped")
        .await;
    let level: serde_json::Value = level.json().await.unwrap();
    assert_eq!(level["compatibilityLevel"], "FULL_TRANSITIVE");

    let bad = load_histories(&history_dir(&[V1, V2_BAD])).unwrap();
    let verdict = check_with_registry(&client, &app.address, topic, &bad[0])
        .await
        .unwrap();
    assert_eq!(verdict.len(), 1, "{verdict:?}");
    assert!(verdict[0].contains("eta"), "{verdict:?}");
    let refused = register(
        &client,
        &app.address,
        topic,
        &bad[0],
        CompatibilityLevel::FullTransitive,
    )
    .await;
    assert!(refused.unwrap_err().to_string().contains("409"));

    let good = load_histories(&history_dir(&[V1, V2_GOOD])).unwrap();
    assert!(
        check_with_registry(&client, &app.address, topic, &good[0])
            .await
            .unwrap()
            .is_empty()
    );
    let v2 = register(
        &client,
        &app.address,
        topic,
        &good[0],
        CompatibilityLevel::FullTransitive,
    )
    .await
    .unwrap();
    assert_ne!(v2, id);
}
