//! The Kafka side: the topic, the producer, the reader that feeds the workers (a member of
//! the command services' group, ADR 0015), and the broker health probe.

use crate::readiness::Readiness;
use crate::worker::WorkerMsg;
use orderflow_platform::{KafkaSettings, QuietEof, access_denied, log_gone, possibly_persisted};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::{Arc, Mutex};
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

/// A member of the command services' consumer group (ADR 0015): it reads the partitions
/// the group assigns it, each from offset 0 (every assignment replays), and its `client.id`
/// is the URL other instances reach it at.
pub fn reader(kafka: &KafkaSettings, membership: Membership) -> Result<Reader, KafkaError> {
    let group = membership.group.clone();
    let client_id = membership.advertised_url.clone();
    kafka
        .client_config(&[
            ("group.id", group.as_str()),
            ("client.id", client_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // A record of an aborted transaction is not part of the log (ADR 0010).
            ("isolation.level", "read_committed"),
            // Every assignment names offset 0 (the log starts there: unlimited retention).
            // A position outside it is an error, never a silent jump to another offset.
            ("auto.offset.reset", "error"),
            // A command is acknowledged when its event is read back: the broker answers a
            // fetch as soon as one byte is there, so the wait only bounds idle fetches.
            ("fetch.wait.max.ms", "100"),
            ("fetch.min.bytes", "1"),
            // The end of a replay is the first end-of-partition event: librdkafka sends
            // it when the fetch position reaches the end the broker reports (the last
            // stable offset under read_committed).
            ("enable.partition.eof", "true"),
            // An instance that died without leaving holds its partitions until its session
            // expires: 10 s, so another takes them over soon (ADR 0015).
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "2000"),
            // Eager: a partition is revoked everywhere before it is assigned anywhere.
            ("partition.assignment.strategy", "range"),
            // A reader that stops polling (a log side torn down, or stuck) leaves the group
            // within a minute rather than hold its partitions for librdkafka's 5 minutes.
            ("max.poll.interval.ms", "60000"),
        ])
        .create_with_context(membership)
}

/// The consumer the command side reads the log with.
pub type Reader = StreamConsumer<Membership>;

/// This instance in the group: its rebalance callback records what it is assigned and
/// what it loses in the readiness (at once: a worker checks it before acknowledging), and
/// queues the changes for the workers, which `feed_workers` hands over before any record
/// of the new assignment.
pub struct Membership {
    pub group: String,
    pub advertised_url: String,
    pub topic: String,
    pub readiness: Arc<Readiness>,
    pub changes: Mutex<Vec<(i32, WorkerMsg)>>,
}

impl ClientContext for Membership {
    fn error(&self, error: KafkaError, reason: &str) {
        QuietEof.error(error, reason);
    }
}

impl ConsumerContext for Membership {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let applied = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                tracing::info!(?partitions, "partitions assigned; replaying them");
                let numbers = self.readiness.assigned(&partitions);
                let assigned = partitions.iter().zip(numbers);
                changes.extend(assigned.map(|(&p, n)| (p, WorkerMsg::Assigned(n))));
                from_offset_zero(&self.topic, &partitions).and_then(|tpl| consumer.assign(&tpl))
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(?partitions, "partitions revoked");
                self.readiness.revoked(&partitions);
                changes.extend(partitions.iter().map(|&p| (p, WorkerMsg::Revoked)));
                consumer.unassign()
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = applied {
            tracing::error!(error = %e, "applying the rebalance failed");
        }
    }
}

impl Membership {
    /// The changes of the rebalances since the last call, in order.
    fn take_changes(&self) -> Vec<(i32, WorkerMsg)> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// `partitions` of `topic`, each at offset 0.
fn from_offset_zero(topic: &str, partitions: &[i32]) -> Result<TopicPartitionList, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        // Offset 0, not "beginning": a log whose first records were deleted is out of
        // range, which the reader must see rather than start later.
        tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
    }
    Ok(tpl)
}

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

/// Joins the group on the topic and hands each record to its worker, each rebalance's
/// changes first, until the workers are gone or the log is (then the readiness says why,
/// and the reader stops).
pub async fn feed_workers(
    consumer: Arc<Reader>,
    topic: String,
    workers: Vec<mpsc::Sender<WorkerMsg>>,
    readiness: Arc<Readiness>,
) {
    if let Err(e) = consumer.subscribe(&[&topic]) {
        tracing::error!(error = %e, "cannot join the group on the topic");
        return;
    }
    loop {
        let received = consumer.recv().await;
        // A rebalance runs inside `recv`: its changes reach the workers before any record
        // of the new assignment.
        for (partition, change) in consumer.context().take_changes() {
            if let Some(worker) = workers.get(partition as usize)
                && worker.send(change).await.is_err()
            {
                return;
            }
        }
        let (partition, msg) = match received {
            Ok(message) => (message.partition(), WorkerMsg::Record(message.detach())),
            Err(KafkaError::PartitionEOF(partition)) => (partition, WorkerMsg::EndOfLog),
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
                continue;
            }
        };
        if let Some(worker) = workers.get(partition as usize)
            && worker.send(msg).await.is_err()
        {
            return;
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
