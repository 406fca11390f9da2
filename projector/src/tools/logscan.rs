//! Reading the log outside the consumer group, for the tools: the partitions and their
//! ends (the rebuild's progress total), and a scan of partitions from their first record
//! up to a bound (verify, single-order repair).

use crate::error::ProjectorError;
use orderflow_platform::{KafkaSettings, QuietEof};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
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
    .map_err(|e| ProjectorError::Generation(format!("reading the log's ends: {e}")))??;
    Ok(ends)
}

/// Reads partitions in log order per partition.
pub struct Scan {
    consumer: StreamConsumer<QuietEof>,
    /// The partitions still being read, each with the offset it stops before.
    open: HashMap<i32, i64>,
}

impl Scan {
    /// Starts reading `topic`'s `partitions` from offset 0.
    pub fn open(
        kafka: &KafkaSettings,
        topic: &str,
        partitions: &BTreeMap<i32, i64>,
    ) -> Result<Scan, ProjectorError> {
        let from = partitions.keys().map(|p| (*p, 0)).collect();
        Self::open_at(kafka, topic, partitions, from)
    }

    /// Starts reading one partition from `from`.
    pub fn open_from(
        kafka: &KafkaSettings,
        topic: &str,
        partition: i32,
        from: i64,
        until: i64,
    ) -> Result<Scan, ProjectorError> {
        let partitions = BTreeMap::from([(partition, until)]);
        Self::open_at(
            kafka,
            topic,
            &partitions,
            HashMap::from([(partition, from)]),
        )
    }

    fn open_at(
        kafka: &KafkaSettings,
        topic: &str,
        partitions: &BTreeMap<i32, i64>,
        from: HashMap<i32, i64>,
    ) -> Result<Scan, ProjectorError> {
        let consumer: StreamConsumer<QuietEof> = kafka
            .client_config(&[
                ("group.id", "orderflow-projector-tools"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "true"),
                ("isolation.level", "read_committed"),
                ("auto.offset.reset", "error"),
            ])
            .create_with_context(QuietEof)?;
        let mut tpl = TopicPartitionList::new();
        let mut open = HashMap::new();
        for (&partition, &until) in partitions {
            let start = from.get(&partition).copied().unwrap_or(0);
            if until <= start {
                continue;
            }
            tpl.add_partition_offset(topic, partition, Offset::Offset(start))?;
            open.insert(partition, until);
        }
        consumer.assign(&tpl)?;
        Ok(Scan { consumer, open })
    }

    /// The next record below its partition's bound, or `None` once every partition is
    /// done.
    pub async fn next(&mut self) -> Result<Option<OwnedMessage>, ProjectorError> {
        while !self.open.is_empty() {
            let received = tokio::time::timeout(STALL, self.consumer.recv())
                .await
                .map_err(|_| {
                    ProjectorError::Generation(format!(
                        "the log stopped answering while partitions {:?} were still being read",
                        self.open.keys().collect::<Vec<_>>()
                    ))
                })?;
            match received {
                Ok(message) => {
                    let partition = message.partition();
                    let Some(&bound) = self.open.get(&partition) else {
                        continue;
                    };
                    let offset = message.offset();
                    if offset + 1 >= bound {
                        self.open.remove(&partition);
                    }
                    if offset >= bound {
                        continue;
                    }
                    return Ok(Some(message.detach()));
                }
                Err(KafkaError::PartitionEOF(partition)) => {
                    // A bound is at most the end of the log (a read model never folds
                    // past it), so the end of the partition ends a bounded read too.
                    self.open.remove(&partition);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}
