//! The Kafka side: the topic, the producer, the reader that feeds the workers, and the
//! broker health probe.

use crate::readiness::Readiness;
use crate::worker::WorkerMsg;
use orderflow_platform::{KafkaSettings, QuietEof, create_topic_if_missing};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates `topic` with `partitions` partitions unless it exists, and returns how many
/// partitions it has.
pub async fn ensure_topic(
    kafka: &KafkaSettings,
    topic: &str,
    partitions: i32,
    replication: i32,
) -> Result<i32, KafkaError> {
    if create_topic_if_missing(kafka, topic, partitions, replication).await? {
        tracing::info!(topic, partitions, "created topic");
    }
    let consumer: BaseConsumer = kafka.client_config(&[]).create()?;
    let topic_owned = topic.to_owned();
    tokio::task::spawn_blocking(move || partition_count(&consumer, &topic_owned))
        .await
        .map_err(|_| KafkaError::Canceled)?
}

fn partition_count(consumer: &BaseConsumer, topic: &str) -> Result<i32, KafkaError> {
    // A topic just created may take a moment to show all partitions in metadata.
    for _ in 0..50 {
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic)
            && t.error().is_none()
            && !t.partitions().is_empty()
        {
            return Ok(t.partitions().len() as i32);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(KafkaError::MetadataFetch(
        RDKafkaErrorCode::UnknownTopicOrPartition,
    ))
}

/// The idempotent producer. Many records in flight, batched by librdkafka.
pub fn producer(kafka: &KafkaSettings, timeout: Duration) -> Result<FutureProducer, KafkaError> {
    let timeout_ms = timeout.as_millis().to_string();
    kafka
        .client_config(&[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // 5 ms rather than 2: fewer, fuller produce requests for the broker, which
            // costs it less per record; measured +45% commands/s together with the short
            // fetch wait below (docs/performance.md). Overridable by ORDERFLOW_KAFKA_PROPERTIES.
            ("linger.ms", "5"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "500000"),
            ("message.timeout.ms", &timeout_ms),
        ])
        .create()
}

/// A consumer that reads every partition from the beginning without a group: the command
/// side folds the whole log, it does not share it.
pub fn reader(kafka: &KafkaSettings) -> Result<Reader, KafkaError> {
    kafka
        .client_config(&[
            ("group.id", "orderflow-command-service"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("isolation.level", "read_uncommitted"),
            // A command is acknowledged when its event is read back, so the fetch wait is
            // on every command's path; tansu 0.6 waits it out even when data is there.
            ("fetch.wait.max.ms", "2"),
            ("fetch.min.bytes", "1"),
            // The end of the rebuild is the first end-of-partition event, not ListOffsets:
            // tansu 0.6 reports the high watermark as the last batch's base offset + 1.
            ("enable.partition.eof", "true"),
        ])
        .create_with_context(QuietEof)
}

/// The consumer the command side reads the log with.
pub type Reader = StreamConsumer<QuietEof>;

/// The high watermark of each partition, as the broker reports it: for progress logs only
/// (the rebuild itself ends at end-of-partition events).
pub async fn end_offsets(
    consumer: Arc<Reader>,
    topic: &str,
    partitions: i32,
) -> Result<Vec<i64>, KafkaError> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        (0..partitions)
            .map(|p| {
                consumer
                    .fetch_watermarks(&topic, p, METADATA_TIMEOUT)
                    .map(|(_, high)| high)
            })
            .collect()
    })
    .await
    .map_err(|_| KafkaError::Canceled)?
}

/// Assigns every partition from the beginning and hands each record to its worker, until
/// the workers are gone.
pub async fn feed_workers(
    consumer: Arc<Reader>,
    topic: String,
    workers: Vec<mpsc::Sender<WorkerMsg>>,
) {
    let mut assignment = TopicPartitionList::new();
    for p in 0..workers.len() as i32 {
        // An assignment error leaves `recv` failing below, where it is logged.
        let _ = assignment.add_partition_offset(&topic, p, Offset::Beginning);
    }
    if let Err(e) = consumer.assign(&assignment) {
        tracing::error!(error = %e, "cannot assign the topic's partitions");
        return;
    }
    loop {
        match consumer.recv().await {
            Ok(message) => {
                let partition = message.partition() as usize;
                let Some(worker) = workers.get(partition) else {
                    continue;
                };
                if worker
                    .send(WorkerMsg::Record(message.detach()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(KafkaError::PartitionEOF(partition)) => {
                let Some(worker) = workers.get(partition as usize) else {
                    continue;
                };
                if worker.send(WorkerMsg::EndOfLog).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the log failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Probes the broker every second, so commands fail fast with 503 while it is away.
pub async fn watch_broker(consumer: Arc<Reader>, topic: String, readiness: Arc<Readiness>) {
    loop {
        let probe = consumer.clone();
        let t = topic.clone();
        let up = tokio::task::spawn_blocking(move || {
            probe
                .fetch_metadata(Some(&t), Duration::from_secs(2))
                .is_ok()
        })
        .await
        .unwrap_or(false);
        readiness.set_broker_up(up);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
