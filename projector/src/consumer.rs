//! The consumer group member and the thread that polls it.
//!
//! Offsets live in Postgres, not in Kafka. When the group assigns partitions, the
//! rebalance callback (which librdkafka runs inside `poll`, on the polling thread, where
//! blocking is fine) loads the stored next offsets and assigns the partitions *at* them,
//! so fetching starts where the read model ends. The callback also tells the batch loop,
//! in the same channel as the records, so the loop knows each partition's next offset
//! before it sees a record of it. On revocation it waits (bounded) until the loop has
//! finished the batches already handed over. Records polled before a rebalance but not yet
//! handed over are dropped: they are fetched again from the stored offsets.

use crate::error::ProjectorError;
use crate::health::Health;
use crate::store::Store;
use orderflow_platform::KafkaSettings;
use rdkafka::Offset;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest time a revocation waits for the batch loop to finish what it was handed.
const REVOKE_DRAIN: Duration = Duration::from_secs(10);
/// Least time between two warnings about polling errors (librdkafka retries by itself).
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What the polling thread hands to the batch loop, in order.
#[derive(Debug)]
pub enum Feed {
    /// Partitions now owned by this instance, with their stored next offsets.
    Assigned(HashMap<i32, i64>),
    /// Partitions no longer owned; the loop acknowledges once everything before is done.
    Revoked(Vec<i32>, std::sync::mpsc::SyncSender<()>),
    /// Records in log order per partition.
    Batch(Vec<OwnedMessage>),
    /// The end of a partition's log was reached: every record before it was handed over.
    EndOfPartition(i32),
}

/// The consumer as the projector uses it.
pub type GroupConsumer = BaseConsumer<AssignmentContext>;

/// Consumer context that assigns partitions at the offsets stored in Postgres.
pub struct AssignmentContext {
    topic: String,
    store: Store,
    runtime: tokio::runtime::Handle,
    feed: mpsc::Sender<Feed>,
    generation: AtomicU64,
    stop: Arc<AtomicBool>,
    health: Arc<Health>,
    /// Records to fetch again before each stored offset (see [`subscribe`]).
    rewind: i64,
    /// Which of the process's group members this is.
    member: usize,
}

impl ClientContext for AssignmentContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // End-of-partition events are asked for by rebuilds; they are not errors.
        if !matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::warn!(error = %error, reason, "librdkafka");
        }
    }
}

impl ConsumerContext for AssignmentContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assign(consumer, tpl, &partitions, cooperative)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(&partitions);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying the rebalance failed");
        }
        let owned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        self.health.set_assignment(self.member, owned);
    }
}

impl AssignmentContext {
    fn assign(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
        partitions: &[i32],
        cooperative: bool,
    ) -> KafkaResult<()> {
        let Some(offsets) = self.stored_offsets(partitions) else {
            return Ok(());
        };
        for (&partition, &offset) in &offsets {
            let from = (offset - self.rewind).max(0);
            tpl.set_partition_offset(&self.topic, partition, Offset::Offset(from))?;
        }
        tracing::info!(?offsets, "assigned partitions at their stored offsets");
        // Sent before the assignment takes effect, so no record of these partitions can
        // reach the loop ahead of their offsets.
        if !self.in_runtime() {
            let _ = self.feed.blocking_send(Feed::Assigned(offsets));
        }
        if cooperative {
            consumer.incremental_assign(tpl)
        } else {
            consumer.assign(tpl)
        }
    }

    /// The stored offsets, retried while Postgres is away (nothing can be folded meanwhile
    /// anyway; librdkafka keeps heartbeating on its own thread). `None` when stopping.
    fn stored_offsets(&self, partitions: &[i32]) -> Option<HashMap<i32, i64>> {
        let mut backoff = Duration::from_millis(200);
        loop {
            if self.in_runtime() {
                return None;
            }
            match self.runtime.block_on(self.store.claim_offsets(partitions)) {
                Ok(offsets) => {
                    self.health.set_database_up(true);
                    return Some(offsets);
                }
                Err(e) => {
                    self.health.set_database_up(false);
                    tracing::warn!(error = %e, "loading stored offsets failed; retrying in {backoff:?}");
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn revoke(&self, partitions: &[i32]) {
        tracing::info!(?partitions, "partitions revoked");
        // The consumer may be closed from a runtime thread when it is dropped there;
        // blocking is not allowed then, and the loop is gone anyway.
        if self.in_runtime() || self.stop.load(Ordering::SeqCst) {
            return;
        }
        let (ack, acked) = std::sync::mpsc::sync_channel(1);
        if self
            .feed
            .blocking_send(Feed::Revoked(partitions.to_vec(), ack))
            .is_ok()
        {
            let _ = acked.recv_timeout(REVOKE_DRAIN);
        }
    }

    fn in_runtime(&self) -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

/// Who decides which partitions a consumer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// The consumer group shares the partitions among the live projector's instances.
    Group,
    /// One process reads every partition, with no group to join (a rebuild): nothing to
    /// wait for when a killed run is started again.
    AllPartitions,
}

/// What [`consume`] needs.
pub struct ConsumerSpec<'a> {
    pub kafka: &'a KafkaSettings,
    pub topic: &'a str,
    pub group: &'a str,
    pub store: Store,
    pub feed: mpsc::Sender<Feed>,
    pub stop: Arc<AtomicBool>,
    pub health: Arc<Health>,
    /// Records fetched again before each stored offset, and skipped. This costs a few
    /// skipped records per assignment and protects against brokers that, asked to fetch
    /// from the middle of a producer batch, return the *next* batch (tansu 0.6 does; ADR
    /// 0004), which would skip the rest of that batch for good.
    pub rewind: i64,
    pub assignment: Assignment,
    /// This member and the process's number of members: with [`Assignment::Group`] each
    /// member joins the group on its own; with [`Assignment::AllPartitions`] member `i`
    /// reads the partitions `p % members == i`.
    pub member: usize,
    pub members: usize,
}

/// Creates the consumer and starts it: subscribed to the topic in the group, or assigned
/// its share of the partitions at their stored offsets. A consumer without a group reports the end of
/// each partition ([`Feed::EndOfPartition`]), which tells a rebuild it has caught up.
pub async fn consume(spec: ConsumerSpec<'_>) -> Result<GroupConsumer, ProjectorError> {
    let all = spec.assignment == Assignment::AllPartitions;
    let context = AssignmentContext {
        topic: spec.topic.to_owned(),
        store: spec.store.clone(),
        runtime: tokio::runtime::Handle::current(),
        feed: spec.feed.clone(),
        generation: AtomicU64::new(0),
        stop: spec.stop,
        health: spec.health.clone(),
        rewind: spec.rewind,
        member: spec.member,
    };
    let consumer: GroupConsumer = spec
        .kafka
        .client_config(&[
            ("group.id", spec.group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("isolation.level", "read_uncommitted"),
            // On the path from a command to its visibility in the read model (tansu 0.6
            // waits it out on every fetch, data or not).
            ("fetch.wait.max.ms", "10"),
            ("enable.partition.eof", if all { "true" } else { "false" }),
        ])
        .create_with_context(context)?;
    if !all {
        consumer.subscribe(&[spec.topic])?;
        return Ok(consumer);
    }
    let partitions = crate::logscan::partition_ends(spec.kafka, spec.topic).await?;
    let members = spec.members.max(1) as i32;
    let partitions: Vec<i32> = partitions
        .into_keys()
        .filter(|p| p.rem_euclid(members) as usize == spec.member)
        .collect();
    let offsets = spec.store.claim_offsets(&partitions).await?;
    let mut tpl = TopicPartitionList::new();
    for (&partition, &offset) in &offsets {
        let from = (offset - spec.rewind).max(0);
        tpl.add_partition_offset(spec.topic, partition, Offset::Offset(from))?;
    }
    tracing::info!(?offsets, "reading every partition from its stored offset");
    // Before the assignment, so no record can reach the loop ahead of its offsets.
    spec.feed
        .send(Feed::Assigned(offsets))
        .await
        .map_err(|_| ProjectorError::Generation("the batch loop is gone".into()))?;
    consumer.assign(&tpl)?;
    spec.health.set_assignment(spec.member, partitions.len());
    Ok(consumer)
}

/// Polls until `stop`, handing over batches of up to `max_records` records, each sent at
/// most `max_wait` after its first record arrived. Runs on its own thread.
pub fn poll_loop(
    consumer: Arc<GroupConsumer>,
    feed: mpsc::Sender<Feed>,
    max_records: usize,
    max_wait: Duration,
    stop: Arc<AtomicBool>,
) {
    let mut batch: Vec<OwnedMessage> = Vec::with_capacity(max_records);
    let mut first_at = Instant::now();
    let mut last_error: Option<Instant> = None;
    // A closed feed means the batch loop is gone (stopped or aborted): leave the group.
    while !stop.load(Ordering::SeqCst) && !feed.is_closed() {
        let timeout = if batch.is_empty() {
            Duration::from_millis(100)
        } else {
            max_wait.saturating_sub(first_at.elapsed())
        };
        let generation = consumer.context().generation.load(Ordering::SeqCst);
        let polled = consumer.poll(timeout);
        if consumer.context().generation.load(Ordering::SeqCst) != generation {
            // A rebalance ran inside this poll: what was polled before it belongs to the
            // old assignment and will be fetched again from the stored offsets.
            batch.clear();
        }
        match polled {
            Some(Ok(message)) => {
                if batch.is_empty() {
                    first_at = Instant::now();
                }
                batch.push(message.detach());
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                let records = std::mem::replace(&mut batch, Vec::with_capacity(max_records));
                if (!records.is_empty() && feed.blocking_send(Feed::Batch(records)).is_err())
                    || feed.blocking_send(Feed::EndOfPartition(partition)).is_err()
                {
                    return;
                }
                continue;
            }
            Some(Err(e)) if last_error.is_none_or(|at| at.elapsed() > LOG_INTERVAL) => {
                tracing::warn!(error = %e, "polling the log failed");
                last_error = Some(Instant::now());
            }
            Some(Err(_)) | None => {}
        }
        let full = batch.len() >= max_records;
        if !batch.is_empty() && (full || first_at.elapsed() >= max_wait) {
            let records = std::mem::replace(&mut batch, Vec::with_capacity(max_records));
            if feed.blocking_send(Feed::Batch(records)).is_err() {
                return;
            }
        }
    }
}
