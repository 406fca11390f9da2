//! The event log's topic: how it is created, and the check every service makes before it
//! trusts it (ADR 0010).
//!
//! The log is the only source of truth, so it must never shrink behind the services' backs:
//! it is created with unlimited retention and `cleanup.policy=delete` (compaction would
//! drop events), and a topic whose settings drifted, or whose partition count changed
//! (which moves orders to other partitions), is refused at start-up with a message that
//! names every problem. The topic's id identifies the log: a read model stores it and
//! refuses a log that was deleted and created again under the same name.

use crate::kafka::KafkaSettings;
use crate::topic_id::{Described, describe_topic_blocking};
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigResource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// The event log topic: its name and the shape it is created with and checked against.
#[derive(Debug, Clone, clap::Args)]
pub struct LogSettings {
    /// Topic holding the order events.
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    pub topic: String,
    /// Partitions of the topic. A service refuses an existing topic with another count:
    /// orders would move to other partitions.
    #[arg(long, env = "ORDERFLOW_TOPIC_PARTITIONS", default_value_t = 6)]
    pub partitions: i32,
    /// Replication factor of the topic.
    #[arg(long, env = "ORDERFLOW_TOPIC_REPLICATION", default_value_t = 1)]
    pub replication_factor: i32,
    /// `min.insync.replicas` of the topic: with `acks=all`, an append is confirmed only
    /// once this many replicas have it.
    #[arg(long, env = "ORDERFLOW_TOPIC_MIN_INSYNC_REPLICAS", default_value_t = 1)]
    pub min_insync_replicas: i32,
}

impl LogSettings {
    /// The local stack's shape for `topic`: 6 partitions on one broker.
    pub fn new(topic: &str) -> Self {
        LogSettings {
            topic: topic.to_owned(),
            partitions: 6,
            replication_factor: 1,
            min_insync_replicas: 1,
        }
    }

    /// The topic configs the log is created with and must keep.
    fn required_configs(&self) -> [(&'static str, String); 4] {
        [
            ("retention.ms", "-1".to_owned()),
            ("retention.bytes", "-1".to_owned()),
            ("cleanup.policy", "delete".to_owned()),
            ("min.insync.replicas", self.min_insync_replicas.to_string()),
        ]
    }
}

/// The log a service checked and uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    pub topic: String,
    /// Kafka's topic id (base64, as Kafka's tools print it): a topic deleted and created
    /// again under the same name gets a new one.
    pub topic_id: String,
    pub partitions: i32,
}

/// What the broker says about an existing topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFacts {
    pub topic_id: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: HashMap<String, String>,
}

/// Why the log cannot be used.
#[derive(Debug, Error)]
pub enum LogError {
    /// The broker did not answer or an admin request failed. Handling: transient; the
    /// service retries with backoff and is not ready meanwhile.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The topic exists but is not a log the service can trust. Handling: fatal; the
    /// service refuses to start and names every problem for the operator.
    #[error("topic {topic} cannot be used as the event log: {}", .problems.join("; "))]
    Refused {
        topic: String,
        problems: Vec<String>,
    },
}

impl LogError {
    /// Whether retrying can help.
    pub fn is_fatal(&self) -> bool {
        matches!(self, LogError::Refused { .. })
    }
}

/// How long admin requests may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Creates the log topic unless it exists, then checks it against `settings`.
pub async fn ensure_log(
    kafka: &KafkaSettings,
    settings: &LogSettings,
) -> Result<LogIdentity, LogError> {
    ensure_topic(kafka, settings).await?;
    let facts = topic_facts(kafka, &settings.topic).await?;
    let problems = check_topic(settings, &facts);
    if !problems.is_empty() {
        return Err(LogError::Refused {
            topic: settings.topic.clone(),
            problems,
        });
    }
    Ok(LogIdentity {
        topic: settings.topic.clone(),
        topic_id: facts.topic_id,
        partitions: facts.partitions,
    })
}

/// Creates `settings.topic` with the log's shape unless it exists; an existing topic is
/// left as it is (and checked by the caller).
pub async fn ensure_topic(kafka: &KafkaSettings, settings: &LogSettings) -> Result<(), LogError> {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config(&[]).create()?;
    let configs = settings.required_configs();
    let mut topic = NewTopic::new(
        &settings.topic,
        settings.partitions,
        TopicReplication::Fixed(settings.replication_factor),
    );
    for (key, value) in &configs {
        topic = topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin.create_topics([&topic], &options).await? {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = settings.partitions, "created topic")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(KafkaError::AdminOp(code).into()),
        }
    }
    Ok(())
}

/// The id, partitions, replication and configs of an existing topic. A topic that was
/// just created may take a moment to be described everywhere, so "unknown topic" is
/// retried briefly.
pub async fn topic_facts(kafka: &KafkaSettings, topic: &str) -> Result<TopicFacts, LogError> {
    let mut attempts = 0;
    let described = loop {
        match describe(kafka, topic).await {
            Err(KafkaError::AdminOp(RDKafkaErrorCode::UnknownTopicOrPartition))
                if attempts < 50 =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other?,
        }
    };
    let admin: AdminClient<DefaultClientContext> = kafka.client_config(&[]).create()?;
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let resource = ResourceSpecifier::Topic(topic);
    let mut configs = HashMap::new();
    for result in admin.describe_configs([&resource], &options).await? {
        let resource: ConfigResource = result.map_err(KafkaError::AdminOp)?;
        for entry in resource.entries {
            if let Some(value) = entry.value {
                configs.insert(entry.name, value);
            }
        }
    }
    Ok(TopicFacts {
        topic_id: described.topic_id,
        partitions: described.partitions,
        replication_factor: described.replication_factor,
        configs,
    })
}

async fn describe(kafka: &KafkaSettings, topic: &str) -> Result<Described, KafkaError> {
    let client: BaseConsumer = kafka.client_config(&[]).create()?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        describe_topic_blocking(client.client(), &topic, ADMIN_TIMEOUT)
    })
    .await
    .map_err(|_| KafkaError::Canceled)?
}

/// Every way `facts` differ from the log `settings` describe; empty when the topic is fit.
pub fn check_topic(settings: &LogSettings, facts: &TopicFacts) -> Vec<String> {
    let mut problems = Vec::new();
    if facts.partitions != settings.partitions {
        problems.push(format!(
            "it has {} partitions but the services are configured for {} \
             (ORDERFLOW_TOPIC_PARTITIONS); a changed count moves orders to other partitions",
            facts.partitions, settings.partitions
        ));
    }
    if facts.replication_factor != settings.replication_factor {
        problems.push(format!(
            "its replication factor is {}, not {} (ORDERFLOW_TOPIC_REPLICATION)",
            facts.replication_factor, settings.replication_factor
        ));
    }
    for (key, required) in settings.required_configs() {
        let found = facts
            .configs
            .get(key)
            .map(String::as_str)
            .unwrap_or("unset");
        if found != required {
            problems.push(format!("{key} is {found}, not {required}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    type Drift = fn(&mut TopicFacts);

    fn fit(settings: &LogSettings) -> TopicFacts {
        TopicFacts {
            topic_id: "id".into(),
            partitions: settings.partitions,
            replication_factor: settings.replication_factor,
            configs: settings
                .required_configs()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    #[test]
    fn a_topic_with_the_logs_shape_is_fit() {
        let settings = LogSettings::new("orders.events");
        assert!(check_topic(&settings, &fit(&settings)).is_empty());
    }

    #[test]
    fn every_drifted_setting_is_named() {
        let settings = LogSettings::new("orders.events");
        let cases: [(&str, Drift, &str); 6] = [
            ("partitions", |f| f.partitions = 12, "12 partitions"),
            (
                "replication",
                |f| f.replication_factor = 3,
                "replication factor is 3",
            ),
            (
                "time retention",
                |f| set(f, "retention.ms", "604800000"),
                "retention.ms is 604800000",
            ),
            (
                "size retention",
                |f| set(f, "retention.bytes", "1073741824"),
                "retention.bytes is 1073741824",
            ),
            (
                "compaction",
                |f| set(f, "cleanup.policy", "compact"),
                "cleanup.policy is compact",
            ),
            (
                "min isr",
                |f| set(f, "min.insync.replicas", "2"),
                "min.insync.replicas is 2",
            ),
        ];
        for (case, drift, expected) in cases {
            let mut facts = fit(&settings);
            drift(&mut facts);
            let problems = check_topic(&settings, &facts);
            assert_eq!(problems.len(), 1, "{case}: {problems:?}");
            assert!(problems[0].contains(expected), "{case}: {problems:?}");
        }
    }

    #[test]
    fn a_missing_config_counts_as_drifted() {
        let settings = LogSettings::new("orders.events");
        let mut facts = fit(&settings);
        facts.configs.remove("retention.ms");
        assert_eq!(
            check_topic(&settings, &facts),
            ["retention.ms is unset, not -1"]
        );
    }

    fn set(facts: &mut TopicFacts, key: &str, value: &str) {
        facts.configs.insert(key.to_owned(), value.to_owned());
    }
}
