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

/// Every partition of `topic` with its high watermark. On tansu 0.6 the watermark is the
/// last batch's base offset + 1 (ADR 0004): an estimate, good for a progress bar only.
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

/// Where a scan of one partition stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Before this offset (the stored next offset of a read model).
    Offset(i64),
    /// At the end of the log as the broker reports it.
    End,
}

/// Reads partitions in log order per partition.
pub struct Scan {
    consumer: StreamConsumer<QuietEof>,
    open: HashMap<i32, Until>,
    /// Records below this offset of a partition are skipped (see [`Scan::open_from`]).
    from: HashMap<i32, i64>,
}

impl Scan {
    /// Starts reading `topic`'s `partitions` from offset 0.
    pub fn open(
        kafka: &KafkaSettings,
        topic: &str,
        partitions: &BTreeMap<i32, Until>,
    ) -> Result<Scan, ProjectorError> {
        let from = partitions.keys().map(|p| (*p, 0)).collect();
        Self::open_at(kafka, topic, partitions, from, 0)
    }

    /// Starts reading one partition from `from`. The fetch starts `rewind` records
    /// earlier and skips them, for brokers that cannot fetch from the middle of a batch
    /// (ADR 0004).
    pub fn open_from(
        kafka: &KafkaSettings,
        topic: &str,
        partition: i32,
        from: i64,
        until: Until,
        rewind: i64,
    ) -> Result<Scan, ProjectorError> {
        let partitions = BTreeMap::from([(partition, until)]);
        Self::open_at(
            kafka,
            topic,
            &partitions,
            HashMap::from([(partition, from)]),
            rewind,
        )
    }

    fn open_at(
        kafka: &KafkaSettings,
        topic: &str,
        partitions: &BTreeMap<i32, Until>,
        from: HashMap<i32, i64>,
        rewind: i64,
    ) -> Result<Scan, ProjectorError> {
        let consumer: StreamConsumer<QuietEof> = kafka
            .client_config(&[
                ("group.id", "orderflow-projector-tools"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "true"),
                ("isolation.level", "read_uncommitted"),
            ])
            .create_with_context(QuietEof)?;
        let mut tpl = TopicPartitionList::new();
        let mut open = HashMap::new();
        for (&partition, &until) in partitions {
            let start = from.get(&partition).copied().unwrap_or(0);
            if matches!(until, Until::Offset(bound) if bound <= start) {
                continue;
            }
            let fetch_from = (start - rewind).max(0);
            tpl.add_partition_offset(topic, partition, Offset::Offset(fetch_from))?;
            open.insert(partition, until);
        }
        consumer.assign(&tpl)?;
        Ok(Scan {
            consumer,
            open,
            from,
        })
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
                    let Some(&until) = self.open.get(&partition) else {
                        continue;
                    };
                    let offset = message.offset();
                    if offset < self.from.get(&partition).copied().unwrap_or(0) {
                        continue;
                    }
                    if let Until::Offset(bound) = until {
                        if offset + 1 >= bound {
                            self.open.remove(&partition);
                        }
                        if offset >= bound {
                            continue;
                        }
                    }
                    return Ok(Some(message.detach()));
                }
                Err(KafkaError::PartitionEOF(partition)) => {
                    // A bounded partition ends at its bound: brokers that under-report
                    // the end (tansu 0.6) must not cut it short.
                    if self.open.get(&partition) == Some(&Until::End) {
                        self.open.remove(&partition);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}
