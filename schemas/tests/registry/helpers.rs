//! A topic of the test's own (so subjects of its own) on the stack's registry, and
//! schema histories written to a temporary folder as `schemas/avro` holds them.

use orderflow_schemas::{
    CompatibilityLevel, RegistryEndpoint, RegistryToolError, SchemaHistory, check_with_registry,
    load_histories, register,
};
use orderflow_testkit::Registry;
use std::path::PathBuf;

/// The event every test evolves.
pub const EVENT: &str = "Probe";

pub const ID: &str = r#"{"name":"id","type":"string"}"#;
pub const QTY: &str = r#"{"name":"qty","type":"int"}"#;
pub const QTY_DEFAULT: &str = r#"{"name":"qty","type":"int","default":0}"#;
pub const NOTE_DEFAULT: &str = r#"{"name":"note","type":["null","string"],"default":null}"#;
pub const EXTRA: &str = r#"{"name":"extra","type":"long"}"#;

/// The `Probe` record with `fields`.
pub fn probe(fields: &[&str]) -> String {
    format!(
        r#"{{"type":"record","name":"Probe","namespace":"com.orderflow.test","fields":[{}]}}"#,
        fields.join(",")
    )
}

/// One test's topic on the stack's registry.
pub struct Subject {
    pub registry: Registry,
    pub topic: String,
    pub client: reqwest::Client,
    /// The registry as the `schemas` tool talks to it, with the stack's credential.
    pub endpoint: RegistryEndpoint,
}

impl Subject {
    pub fn new() -> Subject {
        let registry = Registry::shared();
        let endpoint = RegistryEndpoint::new(&registry.url, registry.auth.as_deref())
            .expect("ORDERFLOW_SCHEMA_REGISTRY_AUTH is user:password");
        Subject {
            registry,
            topic: format!("orders.events.test-{}", uuid::Uuid::new_v4().simple()),
            client: reqwest::Client::new(),
            endpoint,
        }
    }

    /// The registry subject of [`EVENT`] (TopicRecordNameStrategy).
    pub fn name(&self) -> String {
        format!("{}-com.orderflow.test.Probe", self.topic)
    }

    /// What the tool registers for a history whose versions are `versions`: the newest.
    pub async fn register(
        &self,
        versions: &[String],
        level: CompatibilityLevel,
    ) -> Result<u64, RegistryToolError> {
        let history = history(versions);
        register(&self.endpoint, &self.topic, &history, level).await
    }

    /// The registry's verdict on the newest of `versions`: empty when compatible.
    pub async fn verdict(&self, versions: &[String]) -> Vec<String> {
        let history = history(versions);
        check_with_registry(&self.endpoint, &self.topic, &history)
            .await
            .expect("the registry answers")
    }

    /// A GET on the registry's API, as JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.registry.url);
        let response = self.client.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

/// A folder holding `Probe/v1.avsc`, `Probe/v2.avsc`, ... as `schemas/avro` does.
pub fn history_dir(versions: &[String]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "orderflow-schemas-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let event = dir.join(EVENT);
    std::fs::create_dir_all(&event).unwrap();
    for (i, text) in versions.iter().enumerate() {
        std::fs::write(event.join(format!("v{}.avsc", i + 1)), text).unwrap();
    }
    dir
}

/// The history of `Probe` with `versions`, as `load_histories` reads it.
pub fn history(versions: &[String]) -> SchemaHistory {
    let mut histories = load_histories(&history_dir(versions)).unwrap();
    assert_eq!(histories.len(), 1);
    histories.remove(0)
}
