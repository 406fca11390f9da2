//! Reading the log outside the consumer group, for the tools: the partitions and their
//! ends (the rebuild's progress total), and a scan of partitions from their first record
//! up to a bound (verify, single-order repair).

use crate::error::ProjectorError;
use orderflow_platform::{KafkaSettings, QuietEof, ReadToEnd, Span};
use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest a scan waits for the next record before it gives up.
const STALL: Duration = Duration::from_secs(30);
/// Timeout of metadata and watermark requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Every partition of `topic` with its high watermark: where the log ends now.
pub async fn partition_ends(
    kafka: &KafkaSettings,
    topic: &str,
) -> Result<BTreeMap<i32, i64>, ProjectorError> {
    let consumer: StreamConsumer<QuietEof> = kafka
        .client_config(&[("group.id", "orderflow-projector-tools")])
        .create_with_context(QuietEof)?;
    let topic = topic.to_owned();
    let ends = tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(&topic), REQUEST_TIMEOUT)?;
        let mut ends = BTreeMap::new();
        for t in metadata.topics() {
            if let Some(e) = t.error() {
                return Err(KafkaError::MetadataFetch(e.into()));
            }
            for p in t.partitions() {
                let (_, high) = consumer.fetch_watermarks(&topic, p.id(), REQUEST_TIMEOUT)?;
                ends.insert(p.id(), high);
            }
        }
        Ok(ends)
    })
    .await
    .map_err(|source| ProjectorError::TaskFailed {
        task: "reading the log's ends",
        source,
    })??;
    Ok(ends)
}

/// Reads partitions in log order per partition, each up to a bound (the one way to read
/// to the end: [`ReadToEnd`]).
pub struct Scan(ReadToEnd);

impl Scan {
    /// Starts reading `topic`'s `partitions` from offset 0, each up to its bound.
    pub fn open(
        kafka: &KafkaSettings,
        topic: &str,
        partitions: &BTreeMap<i32, i64>,
    ) -> Result<Scan, ProjectorError> {
        let spans = partitions
            .iter()
            .map(|(&p, &until)| (p, span(0, until)))
            .collect();
        Self::open_spans(kafka, topic, &spans)
    }

    /// Starts reading one partition from `from`, up to `until`.
    pub fn open_from(
        kafka: &KafkaSettings,
        topic: &str,
        partition: i32,
        from: i64,
        until: i64,
    ) -> Result<Scan, ProjectorError> {
        let spans = BTreeMap::from([(partition, span(from, until))]);
        Self::open_spans(kafka, topic, &spans)
    }

    fn open_spans(
        kafka: &KafkaSettings,
        topic: &str,
        spans: &BTreeMap<i32, Span>,
    ) -> Result<Scan, ProjectorError> {
        let properties = [
            ("group.id", "orderflow-projector-tools"),
            ("isolation.level", "read_committed"),
        ];
        Ok(Scan(ReadToEnd::open(
            kafka,
            &properties,
            topic,
            spans,
            STALL,
        )?))
    }

    /// The next record below its partition's bound, or `None` once every partition is
    /// done.
    pub async fn next(&mut self) -> Result<Option<OwnedMessage>, ProjectorError> {
        Ok(self.0.next().await?)
    }
}

fn span(from: i64, until: i64) -> Span {
    Span {
        from: Offset::Offset(from),
        until: Some(until),
    }
}
