//! The log as bytes: a topic read record by record with its headers, and records framed
//! as producers with other schemas than this code's wrote them.

use crate::helpers::{Stack, brokers};
use orderflow_platform::{KafkaSettings, ReadToEnd, topic_facts, whole_partitions};
use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use std::collections::HashMap;
use std::time::Duration;

/// One record of a topic with its headers.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: HashMap<String, String>,
}

impl RawRecord {
    fn of(m: &OwnedMessage) -> RawRecord {
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        let v = h.value.map(|v| String::from_utf8_lossy(v).into());
                        (h.key.to_owned(), v.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        RawRecord {
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        }
    }
}

/// Every record of `topic` up to its end, read until each partition reports its end.
pub async fn read_topic(topic: &str) -> Vec<RawRecord> {
    let kafka = KafkaSettings::new(brokers());
    let facts = topic_facts(&kafka, topic).await.expect("the topic exists");
    let spans = whole_partitions(facts.partitions);
    let group = [("group.id", "orderflow-projector-tests")];
    let reader = ReadToEnd::open(&kafka, &group, topic, &spans, Duration::from_secs(30));
    let records = reader.unwrap().collect().await;
    let records = records.unwrap_or_else(|e| panic!("{topic} not read to its end: {e}"));
    records.iter().map(RawRecord::of).collect()
}

impl Stack {
    /// Registers `schema` under the subject of record `full_name` on this stack's topic, as
    /// a producer of another version would; returns the schema's id.
    pub async fn register_schema(&self, full_name: &str, schema: &str) -> u32 {
        let subject = format!("{}-{full_name}", self.topic);
        self.registry.register(&subject, schema).await
    }
}

pub use orderflow_testkit::framed;
