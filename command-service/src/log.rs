//! The Kafka side: the topic, the producer, the reader that feeds the workers, and the
//! broker health probe.

use crate::readiness::Readiness;
use crate::worker::WorkerMsg;
use orderflow_platform::{KafkaSettings, QuietEof, access_denied, log_gone, possibly_persisted};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// A record the broker did not take: it is not in the log.
#[derive(Debug)]
pub struct DeliveryFailure {
    pub order_id: String,
    /// The bytes that were sent, to tell which in-flight event failed.
    pub payload: Vec<u8>,
    pub error: String,
    /// The record may be in the log all the same (see `doubt`).
    pub possibly_persisted: bool,
}

/// Routes failed deliveries to the worker of their partition. Successful deliveries need
/// no report: a command is confirmed by reading its event back, not by the broker's ack,
/// so the producer keeps no future or channel per record.
pub struct Deliveries {
    failures: Vec<mpsc::UnboundedSender<DeliveryFailure>>,
}

impl Deliveries {
    /// One failure channel per partition, indexed by partition.
    pub fn new(failures: Vec<mpsc::UnboundedSender<DeliveryFailure>>) -> Self {
        Deliveries { failures }
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Err((error, message)) = result else {
            return;
        };
        let failure = DeliveryFailure {
            order_id: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            payload: message.payload().unwrap_or_default().to_vec(),
            error: error.to_string(),
            possibly_persisted: possibly_persisted(message),
        };
        if let Some(worker) = self.failures.get(message.partition() as usize) {
            let _ = worker.send(failure);
        }
    }
}

/// The producer the workers append with.
pub type Appender = ThreadedProducer<Deliveries>;

/// The idempotent producer. Many records in flight, batched by librdkafka; failures are
/// routed to the workers by `deliveries`.
pub fn producer(kafka: &KafkaSettings, deliveries: Deliveries) -> Result<Appender, KafkaError> {
    kafka
        .client_config(&[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // No linger: a lone command goes out at once (p50 0.7 ms at one client instead
            // of 6 ms with 5 ms), and under load records still share requests, since they
            // queue while the five requests in flight are answered (Apache Kafka, bench
            // 2026-11-27, docs/performance.md). Overridable by ORDERFLOW_KAFKA_PROPERTIES.
            ("linger.ms", "0"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "500000"),
            // librdkafka's default message timeout (5 minutes), not the command timeout:
            // a client gets its 503 at the command timeout anyway, while a record that
            // stays queued through a broker outage or freeze is delivered once the broker
            // is back, or fails for good. Giving up after a few seconds would leave a
            // record that may still be appended by a request already on its way, whose
            // order could only be released on a guess (see `doubt`).
            ("message.timeout.ms", "300000"),
        ])
        .create_with_context(deliveries)
}

/// A consumer that reads every partition from the beginning without a group: the command
/// side folds the whole log, it does not share it.
pub fn reader(kafka: &KafkaSettings) -> Result<Reader, KafkaError> {
    kafka
        .client_config(&[
            ("group.id", "orderflow-command-service"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // A record of an aborted transaction is not part of the log (ADR 0010).
            ("isolation.level", "read_committed"),
            // The log starts at offset 0 (unlimited retention). A position outside it is
            // an error, never a silent jump to another offset.
            ("auto.offset.reset", "error"),
            // A command is acknowledged when its event is read back: the broker answers a
            // fetch as soon as one byte is there, so the wait only bounds idle fetches.
            ("fetch.wait.max.ms", "100"),
            ("fetch.min.bytes", "1"),
            // The end of the replay is the first end-of-partition event: librdkafka sends
            // it when the fetch position reaches the end the broker reports (the last
            // stable offset under read_committed).
            ("enable.partition.eof", "true"),
        ])
        .create_with_context(QuietEof)
}

/// The consumer the command side reads the log with.
pub type Reader = StreamConsumer<QuietEof>;

/// The high watermark of each partition: the replay's progress total (the replay itself
/// ends at end-of-partition events).
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

/// Why the broker refuses this service's principal, when `error` or one of its causes is
/// such a refusal; `action` names what was attempted.
pub(crate) fn refusal(action: &str, error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(reason) = e
            .downcast_ref::<KafkaError>()
            .and_then(|kafka| access_denied(action, kafka))
        {
            return Some(reason);
        }
        cause = e.source();
    }
    None
}

/// Assigns every partition from offset 0 and hands each record to its worker, until the
/// workers are gone or the log is (then the readiness says why, and the reader stops).
pub async fn feed_workers(
    consumer: Arc<Reader>,
    topic: String,
    workers: Vec<mpsc::Sender<WorkerMsg>>,
    readiness: Arc<Readiness>,
) {
    let mut assignment = TopicPartitionList::new();
    for p in 0..workers.len() as i32 {
        // Offset 0, not "beginning": a log whose first records were deleted is out of
        // range, which the reader must see rather than start later.
        // An assignment error leaves `recv` failing below, where it is logged.
        let _ = assignment.add_partition_offset(&topic, p, Offset::Offset(0));
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
                if let Some(failure) = log_gone(&topic, &e) {
                    readiness.fail(failure);
                    return;
                }
                // An ACL revoked while running: not ready, and reading resumes by itself
                // once it is granted again.
                if let Some(reason) = access_denied(&format!("read topic {topic}"), &e) {
                    readiness.deny_while_refused(reason);
                } else {
                    tracing::warn!(error = %e, "reading the log failed; retrying");
                }
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
