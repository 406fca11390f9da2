//! The fold's consumer: a member of the notifier's own group on the order log, batching
//! records into the store's transactions ([`Store::fold`]).
//!
//! The stored offsets, not Kafka's, say where the fold stands: nothing is committed to
//! Kafka. A new member starts fetching from the log's start, and is moved to the stored
//! offsets as soon as its assignment is known; records before them that it fetched
//! meanwhile are left out by the transaction. So a member never starts past the stored
//! offset of a partition (nothing can be skipped), and a seek that fails costs reading
//! again, never a record.

use crate::fold::Decoded;
use crate::health::Health;
use crate::metrics;
use crate::store::Store;
use orderflow_platform::{Backoff, KafkaSettings};
use orderflow_schemas::EventCodec;
use rdkafka::Offset;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Longest a seek may block the fold loop (librdkafka answers a local seek at once; a
/// fetcher that is not ready refuses it, and it is tried again before the next batch).
const SEEK_TIMEOUT: Duration = Duration::from_millis(200);

/// Tells the fold loop which partitions were assigned (librdkafka's callback may not
/// wait for Postgres; the loop looks the offsets up and seeks) or revoked.
pub struct AssignmentContext {
    assigned: mpsc::UnboundedSender<Assignment>,
    health: Arc<Health>,
}

/// A change of the member's partitions.
#[derive(Debug)]
pub enum Assignment {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

impl ClientContext for AssignmentContext {}

impl ConsumerContext for AssignmentContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions = |tpl: &rdkafka::TopicPartitionList| -> Vec<i32> {
            tpl.elements().iter().map(|e| e.partition()).collect()
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                let partitions = partitions(tpl);
                tracing::info!(?partitions, "partitions assigned");
                self.health.set_assigned(partitions.len());
                let _ = self.assigned.send(Assignment::Assigned(partitions));
            }
            Rebalance::Revoke(tpl) => {
                self.health.set_assigned(0);
                let _ = self.assigned.send(Assignment::Revoked(partitions(tpl)));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}

pub type GroupConsumer = StreamConsumer<AssignmentContext>;

/// A member of `group` subscribed to `topic`, and where its assignments are told.
pub fn subscribe(
    kafka: &KafkaSettings,
    topic: &str,
    group: &str,
    health: Arc<Health>,
) -> Result<(GroupConsumer, mpsc::UnboundedReceiver<Assignment>), rdkafka::error::KafkaError> {
    let (assigned, assignments) = mpsc::unbounded_channel();
    let consumer: GroupConsumer = kafka
        .client_config(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // No committed offsets: a member starts at the log's start, which is never
            // past the stored offset, and then seeks to it.
            ("auto.offset.reset", "earliest"),
            ("isolation.level", "read_committed"),
            ("fetch.wait.max.ms", "100"),
            // A member that died without leaving (SIGKILL, a lost node) holds its
            // partitions until its session expires: 10 s, not librdkafka's 45 s, so the
            // others take over soon. Overridable with ORDERFLOW_KAFKA_PROPERTIES.
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "2000"),
        ])
        .create_with_context(AssignmentContext { assigned, health })?;
    consumer.subscribe(&[topic])?;
    Ok((consumer, assignments))
}

/// What the fold loop needs.
pub struct FoldLoop {
    pub consumer: GroupConsumer,
    pub assignments: mpsc::UnboundedReceiver<Assignment>,
    pub topic: String,
    pub store: Store,
    pub codec: Arc<EventCodec>,
    pub health: Arc<Health>,
    /// Woken after a batch wrote notices: the delivery workers.
    pub wake: Arc<Notify>,
    pub max_records: usize,
}

impl FoldLoop {
    /// Folds until `stop`. A batch that cannot be decoded (registry down) or written
    /// (Postgres down) is retried with backoff, never passed.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut seeks: HashMap<i32, u32> = HashMap::new();
        loop {
            while let Ok(change) = self.assignments.try_recv() {
                match change {
                    Assignment::Assigned(partitions) => {
                        seeks.extend(partitions.into_iter().map(|p| (p, 0)))
                    }
                    Assignment::Revoked(partitions) => seeks.retain(|p, _| !partitions.contains(p)),
                }
            }
            self.seek_to_stored(&mut seeks).await;
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                message = self.consumer.recv() => message,
            };
            let mut batch = Vec::new();
            match first {
                Ok(message) => batch.push(raw(&message)),
                Err(e) => {
                    tracing::warn!(error = %e, "polling the log failed");
                    continue;
                }
            }
            while batch.len() < self.max_records {
                match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                    Ok(Ok(message)) => batch.push(raw(&message)),
                    _ => break,
                }
            }
            let Some(decoded) = self.decode(batch, &stop).await else {
                return;
            };
            if !self.fold(&decoded, &stop).await {
                return;
            }
        }
    }

    /// Moves each newly assigned partition to its stored offset. A seek librdkafka refuses
    /// (the partition's fetcher not started yet) is tried again before the next batches.
    async fn seek_to_stored(&self, seeks: &mut HashMap<i32, u32>) {
        if seeks.is_empty() {
            return;
        }
        let partitions: Vec<i32> = seeks.keys().copied().collect();
        let Ok(offsets) = self.store.next_offsets(&partitions).await else {
            return;
        };
        for (partition, offset) in offsets {
            let sought =
                self.consumer
                    .seek(&self.topic, partition, Offset::Offset(offset), SEEK_TIMEOUT);
            let tries = seeks.entry(partition).or_default();
            *tries += 1;
            match sought {
                Ok(()) => {
                    tracing::info!(partition, offset, "moved to the stored offset");
                    seeks.remove(&partition);
                }
                // Reading from the start is correct, only slower: give up after a while.
                Err(e) if *tries >= 50 => {
                    tracing::warn!(partition, error = %e, "seeking to the stored offset failed; reading from the start");
                    seeks.remove(&partition);
                }
                Err(_) => {}
            }
        }
    }

    async fn decode(&self, batch: Vec<Raw>, stop: &CancellationToken) -> Option<Vec<Decoded>> {
        let mut decoded = Vec::with_capacity(batch.len());
        for raw in batch {
            let mut backoff = Backoff::standard();
            let event = loop {
                match self.codec.decode(&raw.payload).await {
                    Ok(event) => break Ok(event),
                    Err(e) if e.is_poison() => break Err(e.to_string()),
                    Err(e) => {
                        self.health.set_registry_up(false);
                        tracing::warn!(error = %e, "decoding waits for the registry");
                        if !backoff.wait_unless(stop).await {
                            return None;
                        }
                    }
                }
            };
            self.health.set_registry_up(true);
            if let Err(error) = &event {
                tracing::error!(
                    partition = raw.partition,
                    offset = raw.offset,
                    error,
                    "a record of the log is not an event; passed (the projector dead-letters it)"
                );
            }
            decoded.push(Decoded {
                partition: raw.partition,
                offset: raw.offset,
                event,
            });
        }
        Some(decoded)
    }

    /// Writes the batch; false when stopped first. A batch Postgres refuses for its
    /// content (a value it cannot store: SQLSTATE classes 22 and 23) is written one record
    /// at a time, and a record refused alone is passed as unwritable: logged, counted, its
    /// offset moved past, never retried for ever.
    async fn fold(&self, decoded: &[Decoded], stop: &CancellationToken) -> bool {
        match self.write(decoded, stop).await {
            Written::Done => true,
            Written::Stopped => false,
            Written::Refused(e) if decoded.len() > 1 => {
                tracing::warn!(error = %e, "Postgres refused a batch for its content; writing it one record at a time");
                for record in decoded {
                    if !Box::pin(self.fold(std::slice::from_ref(record), stop)).await {
                        return false;
                    }
                }
                true
            }
            Written::Refused(e) => {
                let record = &decoded[0];
                tracing::error!(partition = record.partition, offset = record.offset, error = %e,
                    "Postgres refuses this record's content; passed as unwritable (no one is notified of it)");
                let passed = Decoded {
                    event: Err(format!("unwritable: {e}")),
                    ..record.clone()
                };
                matches!(self.write(&[passed], stop).await, Written::Done)
            }
        }
    }

    /// One attempt at writing `decoded`, retried with backoff while Postgres is away.
    async fn write(&self, decoded: &[Decoded], stop: &CancellationToken) -> Written {
        let mut backoff = Backoff::standard();
        loop {
            match self.store.fold(decoded).await {
                Ok(folded) => {
                    self.health.set_database_up(true);
                    metrics::folded(&folded);
                    if folded.queued > 0 {
                        self.wake.notify_waiters();
                    }
                    return Written::Done;
                }
                Err(e) if refused_for_content(&e) => return Written::Refused(e),
                Err(e) => {
                    self.health.set_database_up(false);
                    tracing::warn!(error = %e, "folding a batch failed; retrying");
                }
            }
            if !backoff.wait_unless(stop).await {
                return Written::Stopped;
            }
        }
    }
}

/// How a write ended.
enum Written {
    Done,
    Stopped,
    /// Postgres refused what the records hold; retrying cannot help.
    Refused(sqlx::Error),
}

/// Whether Postgres refused the statement for the data in it (data exceptions, integrity
/// constraints), rather than for being unreachable or busy.
fn refused_for_content(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|db| db.code());
    code.is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
}

/// A record as the loop carries it.
struct Raw {
    partition: i32,
    offset: i64,
    payload: Vec<u8>,
}

fn raw(message: &BorrowedMessage<'_>) -> Raw {
    Raw {
        partition: message.partition(),
        offset: message.offset(),
        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}
