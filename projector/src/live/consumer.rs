//! The consumer group member and its rebalance callback (the thread that polls it is
//! `poll`).
//!
//! Offsets live in Postgres, not in Kafka. When the group assigns partitions, the
//! rebalance callback (which librdkafka runs inside `poll`, on the polling thread, where
//! blocking is fine) loads the stored next offsets and assigns the partitions *at* them,
//! so fetching starts where the read model ends. The callback also tells the batch loop,
//! in the same channel as the records, so the loop knows each partition's next offset
//! before it sees a record of it. On revocation it waits (bounded) until the loop has
//! finished the batches already handed over. Records polled before a rebalance but not yet
//! handed over are dropped: they are fetched again from the stored offsets. A partition
//! whose stored offset lies past the end of the log is left unassigned and reported on
//! `/readyz` ([`AheadOfLog`]): the read model was folded from a log that is gone.

use crate::error::ProjectorError;
use crate::health::Health;
use crate::live::record::Record;
use crate::sinks::postgres::{Offsets, Store};
use orderflow_platform::{Backoff, KafkaSettings};
use rdkafka::Offset;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest time a revocation waits for the batch loop to finish what it was handed.
const REVOKE_DRAIN: Duration = Duration::from_secs(10);
/// Longest wait for a partition's end when checking the stored offsets against it.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the polling thread hands to the batch loop, in order.
#[derive(Debug)]
pub enum Feed {
    /// Partitions now owned by this instance, with their stored next offsets.
    Assigned(HashMap<i32, i64>),
    /// Partitions no longer owned; the loop acknowledges once everything before is done.
    Revoked(Vec<i32>, std::sync::mpsc::SyncSender<()>),
    /// Records in log order per partition.
    Batch(Vec<Record>),
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
    /// Rebalances so far: the polling thread compares it around each poll.
    rebalances: AtomicU64,
    /// The member's polling token: a plain check from librdkafka's callback.
    stop: CancellationToken,
    health: Arc<Health>,
    /// Which of the process's group members this is.
    member: usize,
    /// Partitions this member owns.
    owned: AtomicUsize,
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
        // Up again once the lag reporter's next probe gets an answer.
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.health.set_kafka_up(false);
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
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        // The partitions owned afterwards are counted here rather than asked of librdkafka:
        // `assignment()` inside this callback can wait forever while the consumer closes.
        let owned = self.owned.load(Ordering::SeqCst);
        let (result, owned) = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                match self.assign(consumer, &partitions, cooperative) {
                    Ok(n) if cooperative => (Ok(()), owned + n),
                    Ok(n) => (Ok(()), n),
                    Err(e) => (Err(e), owned),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(&partitions);
                if cooperative {
                    let left = owned.saturating_sub(partitions.len());
                    (consumer.incremental_unassign(tpl), left)
                } else {
                    (consumer.unassign(), 0)
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                (consumer.unassign(), 0)
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying the rebalance failed");
        }
        self.owned.store(owned, Ordering::SeqCst);
        self.health.set_assignment(self.member, owned);
    }
}

impl AssignmentContext {
    /// Assigns `partitions` at their stored offsets; returns how many it assigned.
    fn assign(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &[i32],
        cooperative: bool,
    ) -> KafkaResult<usize> {
        let Some((mut offsets, cached)) = self.stored_offsets(partitions) else {
            return Ok(0);
        };
        let ahead = ahead_of_log(&offsets, |partition| {
            let ends = consumer.fetch_watermarks(&self.topic, partition, WATERMARK_TIMEOUT);
            ends.ok().map(|(_, high)| high)
        });
        keep_off(&mut offsets, &ahead, &self.health);
        let tpl = &mut at_offsets(&self.topic, &offsets, &cached)?;
        tracing::info!(
            ?offsets,
            ?cached,
            "assigned partitions at their stored offsets"
        );
        // Sent before the assignment takes effect, so no record of these partitions can
        // reach the loop ahead of their offsets.
        if !self.in_runtime() {
            let _ = self.feed.blocking_send(Feed::Assigned(offsets));
        }
        if cooperative {
            consumer.incremental_assign(tpl)?;
        } else {
            consumer.assign(tpl)?;
        }
        Ok(tpl.count())
    }

    /// The stored next and cached offsets, retried while Postgres is away (nothing can be
    /// folded meanwhile anyway; librdkafka keeps heartbeating on its own thread). `None`
    /// when stopping.
    fn stored_offsets(&self, partitions: &[i32]) -> Option<(Offsets, Offsets)> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            if self.in_runtime() {
                return None;
            }
            match self.runtime.block_on(self.store.resume_points(partitions)) {
                Ok(offsets) => {
                    self.health.set_database_up(true);
                    return Some(offsets);
                }
                Err(e) => {
                    self.health.set_database_up(false);
                    tracing::warn!(error = %e, "loading stored offsets failed; retrying in {:?}", backoff.delay());
                }
            }
            if self.stop.is_cancelled() {
                return None;
            }
            // The rebalance callback runs on the polling thread, not on the runtime.
            std::thread::sleep(backoff.advance());
        }
    }

    fn revoke(&self, partitions: &[i32]) {
        tracing::info!(?partitions, "partitions revoked");
        // The consumer may be closed from a runtime thread when it is dropped there;
        // blocking is not allowed then, and the loop is gone anyway.
        if self.in_runtime() || self.stop.is_cancelled() {
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

    /// How many rebalances have run (see `poll::poll_loop`).
    pub(crate) fn rebalances(&self) -> u64 {
        self.rebalances.load(Ordering::SeqCst)
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn health(&self) -> &Health {
        &self.health
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
    pub stop: CancellationToken,
    pub health: Arc<Health>,
    pub assignment: Assignment,
    /// This member and the process's number of members: with [`Assignment::Group`] each
    /// member joins the group on its own; with [`Assignment::AllPartitions`] member `i`
    /// reads the partitions `p % members == i`.
    pub member: usize,
    pub members: usize,
}

/// Creates the consumer and starts it: subscribed to the topic in the group, or assigned
/// its share of the partitions at their stored offsets. A consumer without a group
/// reports the end of each partition ([`Feed::EndOfPartition`]), which tells a rebuild it
/// has caught up.
pub async fn consume(spec: ConsumerSpec<'_>) -> Result<GroupConsumer, ProjectorError> {
    let all = spec.assignment == Assignment::AllPartitions;
    let context = AssignmentContext {
        topic: spec.topic.to_owned(),
        store: spec.store.clone(),
        runtime: tokio::runtime::Handle::current(),
        feed: spec.feed.clone(),
        rebalances: AtomicU64::new(0),
        stop: spec.stop,
        health: spec.health.clone(),
        member: spec.member,
        owned: AtomicUsize::new(0),
    };
    let consumer: GroupConsumer = spec
        .kafka
        .client_config(&[
            ("group.id", spec.group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // Every assignment names its offsets; a position outside the log is an error
            // the reader stops on, never a silent jump (ADR 0010).
            ("auto.offset.reset", "error"),
            // A record of an aborted transaction is not part of the log.
            ("isolation.level", "read_committed"),
            // The broker answers a fetch as soon as data is there; the wait only bounds
            // idle fetches.
            ("fetch.wait.max.ms", "100"),
            ("enable.partition.eof", if all { "true" } else { "false" }),
        ])
        .create_with_context(context)?;
    if !all {
        consumer.subscribe(&[spec.topic])?;
        return Ok(consumer);
    }
    let ends = crate::tools::logscan::partition_ends(spec.kafka, spec.topic).await?;
    let members = spec.members.max(1) as i32;
    let partitions: Vec<i32> = ends
        .keys()
        .copied()
        .filter(|p| p.rem_euclid(members) as usize == spec.member)
        .collect();
    let (mut offsets, cached) = spec.store.resume_points(&partitions).await?;
    let ahead = ahead_of_log(&offsets, |p| ends.get(&p).copied());
    keep_off(&mut offsets, &ahead, &spec.health);
    let tpl = at_offsets(spec.topic, &offsets, &cached)?;
    tracing::info!(?offsets, "reading every partition from its stored offset");
    // Before the assignment, so no record can reach the loop ahead of its offsets.
    spec.feed
        .send(Feed::Assigned(offsets))
        .await
        .map_err(|_| ProjectorError::PipelineStopped {
            pipeline: "the batch loop",
        })?;
    consumer.assign(&tpl)?;
    spec.health.set_assignment(spec.member, partitions.len());
    Ok(consumer)
}

/// A partition whose stored next offset lies past the end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AheadOfLog {
    pub partition: i32,
    pub stored_offset: i64,
    pub log_end: i64,
}

/// The partitions of `offsets` whose stored offset lies past the end of the log. Such a
/// read model was folded from a log that lost records (a broker that lost data, a topic
/// deleted and created again: the stored topic id catches that case first). Consuming
/// would treat the log's next records as already folded and skip them. A partition whose
/// end `log_end` cannot tell is not flagged.
pub(crate) fn ahead_of_log(
    offsets: &HashMap<i32, i64>,
    log_end: impl Fn(i32) -> Option<i64>,
) -> Vec<AheadOfLog> {
    let mut ahead: Vec<AheadOfLog> = offsets
        .iter()
        .filter_map(|(&partition, &stored_offset)| {
            let log_end = log_end(partition)?;
            (stored_offset > log_end).then_some(AheadOfLog {
                partition,
                stored_offset,
                log_end,
            })
        })
        .collect();
    ahead.sort_by_key(|a| a.partition);
    ahead
}

/// Leaves the partitions ahead of the log out of the assignment (they are not consumed
/// until the read model is rebuilt), and reports every partition's state to `/readyz`.
fn keep_off(offsets: &mut HashMap<i32, i64>, ahead: &[AheadOfLog], health: &Health) {
    let assigned: Vec<i32> = offsets.keys().copied().collect();
    health.set_ahead_of_log(&assigned, ahead);
    for a in ahead {
        tracing::error!(
            partition = a.partition,
            stored_offset = a.stored_offset,
            log_end = a.log_end,
            "the read model is ahead of the log: it was folded from a log that lost records (a broker that lost data). The partition is not consumed; rebuild the read model from the log (docs/runbook-rebuild.md)"
        );
        offsets.remove(&a.partition);
    }
}

/// The assignment of the partitions of `offsets`, each fetched from where its cache is
/// confirmed (`cached`, at most the stored offset): the records between are not folded
/// again, but their orders are written through to Redis again (ADR 0010).
fn at_offsets(topic: &str, offsets: &Offsets, cached: &Offsets) -> KafkaResult<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for (&partition, &next) in offsets {
        let from = cached.get(&partition).map_or(next, |&c| c.min(next));
        tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
    }
    Ok(tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stored_offset_past_the_log_end_is_ahead_of_the_log() {
        let offsets = HashMap::from([(0, 500), (1, 101), (2, 100), (3, 9_000)]);
        let ends = HashMap::from([(0, 1_000), (1, 100), (2, 100)]);
        let ahead = ahead_of_log(&offsets, |p| ends.get(&p).copied());
        let expected = AheadOfLog {
            partition: 1,
            stored_offset: 101,
            log_end: 100,
        };
        // Partition 3's end is unknown: not flagged on a guess.
        assert_eq!(ahead, [expected]);
    }
}
