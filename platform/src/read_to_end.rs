//! [`ReadToEnd`]: the one way to read partitions of a topic to their ends, outside any
//! consumer group (the tools' scans, the benchmark's raw read, the tests' log dumps).
//!
//! A partition is done at its bound, or when librdkafka reports the end of the partition
//! (`enable.partition.eof`): a bound is at most the end of the log, so the end of a
//! partition ends a bounded read too. Readers that go on past the end (the command
//! service's replay, the projector's group members) watch for the same event themselves.

use crate::{KafkaSettings, QuietEof};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Why a read to the end did not get there.
#[derive(Debug, thiserror::Error)]
pub enum ReadToEndError {
    /// The client failed (the topic is gone, a position is outside the log, ...).
    /// Handling: the caller's, as for any Kafka error.
    #[error("reading the log: {0}")]
    Kafka(#[from] KafkaError),
    /// No record and no end came for the stall limit. Handling: give up the read; the
    /// broker is away or the partitions cannot be fetched.
    #[error("the log stopped answering while partitions {partitions:?} were still being read")]
    Stalled { partitions: Vec<i32> },
}

/// Where one partition's read starts and (exclusively) stops.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: Offset,
    /// `None`: to the end of the partition.
    pub until: Option<i64>,
}

/// Reads partitions in log order per partition, each up to its bound or its end.
pub struct ReadToEnd {
    consumer: StreamConsumer<QuietEof>,
    /// The partitions still being read, with the offset each stops before.
    open: HashMap<i32, Option<i64>>,
    stall: Duration,
}

impl ReadToEnd {
    /// Starts reading `spans` of `topic`; `properties` are added to the client's (the
    /// group id, the isolation level). Empty spans are done at once.
    pub fn open(
        kafka: &KafkaSettings,
        properties: &[(&str, &str)],
        topic: &str,
        spans: &BTreeMap<i32, Span>,
        stall: Duration,
    ) -> Result<ReadToEnd, KafkaError> {
        let mut config = vec![
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "error"),
        ];
        config.extend_from_slice(properties);
        let consumer: StreamConsumer<QuietEof> =
            kafka.client_config(&config).create_with_context(QuietEof)?;
        let mut assignment = TopicPartitionList::new();
        let mut open = HashMap::new();
        for (&partition, span) in spans {
            if let (Offset::Offset(from), Some(until)) = (span.from, span.until)
                && until <= from
            {
                continue;
            }
            assignment.add_partition_offset(topic, partition, span.from)?;
            open.insert(partition, span.until);
        }
        consumer.assign(&assignment)?;
        Ok(ReadToEnd {
            consumer,
            open,
            stall,
        })
    }

    /// The next record below its partition's bound, or `None` once every partition is
    /// done.
    pub async fn next(&mut self) -> Result<Option<OwnedMessage>, ReadToEndError> {
        while !self.open.is_empty() {
            let received = tokio::time::timeout(self.stall, self.consumer.recv())
                .await
                .map_err(|_| ReadToEndError::Stalled {
                    partitions: self.open.keys().copied().collect(),
                })?;
            match received {
                Ok(message) => {
                    let partition = message.partition();
                    let Some(&until) = self.open.get(&partition) else {
                        continue;
                    };
                    let offset = message.offset();
                    if let Some(until) = until {
                        if offset + 1 >= until {
                            self.open.remove(&partition);
                        }
                        if offset >= until {
                            continue;
                        }
                    }
                    return Ok(Some(message.detach()));
                }
                Err(KafkaError::PartitionEOF(partition)) => {
                    self.open.remove(&partition);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Every record left, in log order per partition.
    pub async fn collect(mut self) -> Result<Vec<OwnedMessage>, ReadToEndError> {
        let mut records = Vec::new();
        while let Some(record) = self.next().await? {
            records.push(record);
        }
        Ok(records)
    }
}

/// Spans of `partitions` partitions, each read from its first record to its end.
pub fn whole_partitions(partitions: i32) -> BTreeMap<i32, Span> {
    let whole = Span {
        from: Offset::Beginning,
        until: None,
    };
    (0..partitions).map(|p| (p, whole)).collect()
}
