//! The batch loop: takes the batches the polling thread hands over (decoded ahead by the
//! decoder stage), and for each one folds and writes it in one Postgres transaction
//! together with the partitions' next offsets, dead-letters its poison records before
//! committing, then hands the changed orders to the cache writer stage (`stages`).
//!
//! A batch that fails for a transient reason (Postgres, the registry, the DLQ producer)
//! is retried whole, with backoff, until it succeeds: its transaction rolled back, so a
//! retry applies it exactly once. Records below a partition's stored next offset are
//! skipped, which makes any redelivery harmless.

use crate::cache::Cache;
use crate::consumer::{Feed, GroupConsumer};
use crate::dlq::{DeadLetters, Poison};
use crate::error::ProjectorError;
use crate::fold::fold_batch;
use crate::health::Health;
use crate::model::{DecodedRecord, Position};
use crate::stages::{CacheWriter, Staged, spawn_decoder};
use crate::store::Store;
use orderflow_domain::Event;
use orderflow_schemas::{CodecError, EventCodec};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// What the batch loop works with.
pub struct Pipeline {
    pub topic: String,
    pub store: Store,
    pub codec: Arc<EventCodec>,
    /// Where poison records go; `None` for a rebuild, whose poison records the live
    /// projector has dead-lettered already (they are counted and logged instead).
    pub dead_letters: Option<DeadLetters>,
    pub cache: CacheWriter,
    pub health: Arc<Health>,
    pub consumer: Arc<GroupConsumer>,
    /// Where the loop is, shared with the lag and progress reporters.
    pub positions: Arc<Mutex<Positions>>,
}

/// The loop's position in the log.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    /// Next offset to fold of each owned partition (every record below it is committed).
    pub next: HashMap<i32, i64>,
    /// Partitions whose end of log was reached at least once, with everything before it
    /// committed (only reported when the consumer asks for end-of-partition events).
    pub at_end: HashSet<i32>,
}

impl Positions {
    /// Records folded so far over all partitions (every offset below `next`).
    pub fn folded(&self) -> u64 {
        self.next.values().sum::<i64>().max(0) as u64
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `stop` turned true, or the polling thread is gone.
    Stopped,
    /// The generation written is no longer live (a switch happened): reconnect.
    NotLive,
}

impl Pipeline {
    /// Runs until `stop` turns true, the polling thread is gone, or the generation stops
    /// being live.
    pub async fn run(
        mut self,
        feed: mpsc::Receiver<Feed>,
        mut stop: watch::Receiver<bool>,
    ) -> (Ended, Cache) {
        let mut staged = spawn_decoder(self.codec.clone(), feed);
        let ended = self.run_loop(&mut staged, &mut stop).await;
        // Closing the stream stops the decoder (and with it the feed).
        drop(staged);
        (ended, self.cache.finish().await)
    }

    async fn run_loop(
        &mut self,
        feed: &mut mpsc::Receiver<Staged>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        let mut next: HashMap<i32, i64> = HashMap::new();
        loop {
            let message = tokio::select! {
                message = feed.recv() => message,
                _ = stop.wait_for(|s| *s) => None,
            };
            let mut at_end = None;
            match message {
                Some(Staged::Assigned(offsets)) => next.extend(offsets),
                Some(Staged::Revoked(partitions, ack)) => {
                    for p in partitions {
                        next.remove(&p);
                    }
                    let _ = ack.send(());
                }
                Some(Staged::Batch(records, events)) => {
                    if let Err(ended) = self.handle(&records, &events, &mut next, stop).await {
                        return ended;
                    }
                }
                Some(Staged::EndOfPartition(partition)) => at_end = Some(partition),
                None => return Ended::Stopped,
            }
            let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
            positions.next = next.clone();
            positions.at_end.extend(at_end);
        }
    }

    /// Folds one batch, retrying until it is committed; `Err` when the loop must end.
    async fn handle(
        &mut self,
        records: &[OwnedMessage],
        events: &[Result<Event, CodecError>],
        next: &mut HashMap<i32, i64>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), Ended> {
        let mut backoff = Duration::from_millis(100);
        let mut last_warning: Option<Instant> = None;
        loop {
            match self.fold_and_commit(records, events, next).await {
                Ok(()) => {
                    self.health.set_database_up(true);
                    return Ok(());
                }
                Err(ProjectorError::NotLive { generation }) => {
                    tracing::info!(generation, "the generation is no longer live");
                    return Err(Ended::NotLive);
                }
                Err(ProjectorError::Fenced {
                    partition,
                    expected,
                    stored,
                }) => {
                    tracing::warn!(
                        partition,
                        expected,
                        stored,
                        "another instance moved the partition; adopting the stored offsets"
                    );
                    let owned: Vec<i32> = next.keys().copied().collect();
                    match self.store.claim_offsets(&owned).await {
                        Ok(stored) => {
                            next.extend(stored);
                            continue;
                        }
                        Err(e) => self.warn_retry(&e, backoff, &mut last_warning),
                    }
                }
                Err(e) => {
                    if matches!(e, ProjectorError::Database(_)) {
                        self.health.set_database_up(false);
                    }
                    self.warn_retry(&e, backoff, &mut last_warning);
                }
            }
            if *stop.borrow() {
                return Err(Ended::Stopped);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn warn_retry(&self, e: &ProjectorError, backoff: Duration, last: &mut Option<Instant>) {
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            tracing::warn!(error = %e, kind = e.kind(), "folding a batch failed; retrying the whole batch in {backoff:?}");
            *last = Some(Instant::now());
        }
    }

    async fn fold_and_commit(
        &mut self,
        records: &[OwnedMessage],
        events: &[Result<Event, CodecError>],
        next: &mut HashMap<i32, i64>,
    ) -> Result<(), ProjectorError> {
        // The idempotence guard: only owned partitions, only records not yet folded.
        let fresh: Vec<(&OwnedMessage, &Result<Event, CodecError>)> = records
            .iter()
            .zip(events)
            .filter(|(m, _)| next.get(&m.partition()).is_some_and(|n| m.offset() >= *n))
            .collect();
        self.refresh_cache_for_replayed(records, next).await?;
        if fresh.is_empty() {
            return Ok(());
        }
        let mut decoded = Vec::with_capacity(fresh.len());
        let mut poison = Vec::new();
        let mut by_position: HashMap<Position, &OwnedMessage> = HashMap::new();
        for &(message, event) in &fresh {
            let position = Position {
                partition: message.partition(),
                offset: message.offset(),
            };
            by_position.insert(position, message);
            let redecoded;
            let event = match event {
                // The registry was down when the decoder met this record: ask again (a
                // batch retry comes back here after its backoff).
                Err(e) if e.is_transient() => {
                    redecoded = self
                        .codec
                        .decode(message.payload().unwrap_or_default())
                        .await;
                    &redecoded
                }
                decoded => decoded,
            };
            match event {
                // An order's events must share its key (and so its partition), or two
                // partitions could fold the same order; such a record is poison.
                Ok(event) if message.key() != Some(event.order_id.as_bytes()) => {
                    let reason = format!("the record key is not the order id {}", event.order_id);
                    poison.push(poison_of(message, reason));
                }
                Ok(event) => decoded.push(DecodedRecord {
                    position,
                    event: event.clone(),
                }),
                Err(CodecError::RegistryUnavailable(text)) => {
                    let unavailable = CodecError::RegistryUnavailable(text.clone());
                    return Err(ProjectorError::Registry(unavailable));
                }
                Err(e) => poison.push(poison_of(message, e.to_string())),
            }
        }
        let mut new_next: BTreeMap<i32, i64> = BTreeMap::new();
        for (m, _) in &fresh {
            let n = new_next.entry(m.partition()).or_insert(0);
            *n = (*n).max(m.offset() + 1);
        }
        let expected: Vec<(i32, i64)> = new_next.keys().map(|p| (*p, next[p])).collect();

        let mut tx = self.store.begin().await?;
        tx.lock_offsets(&expected).await?;
        let ids: HashSet<&str> = decoded.iter().map(|d| d.event.order_id.as_str()).collect();
        let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
        let current = tx.load_orders(&ids).await?;
        let plan = fold_batch(current, &decoded);
        for rejected in &plan.rejected {
            if let Some(message) = by_position.get(&rejected.position) {
                poison.push(poison_of(message, rejected.reason.clone()));
            }
        }
        let offsets: Vec<(i32, i64)> = new_next.iter().map(|(p, o)| (*p, *o)).collect();
        tx.write(&plan, &offsets).await?;
        if !poison.is_empty() {
            poison.sort_by_key(|p| p.position);
            match &self.dead_letters {
                Some(dead_letters) => dead_letters.send_all(&poison).await?,
                None => log_skipped(&poison),
            }
        }
        tx.commit().await?;

        next.extend(offsets.iter().copied());
        self.count(&plan, poison.len());
        self.commit_to_kafka(&offsets);
        let views = plan.orders.into_iter().map(|c| c.view).collect();
        self.cache.write(views).await;
        Ok(())
    }

    /// Records below the stored offset come back only after an assignment (the resume
    /// rewind) or a redelivery. Their orders are already in Postgres, but a projector killed
    /// between its commit and its cache write left Redis behind: write their stored state
    /// through again (the version guard keeps anything newer).
    async fn refresh_cache_for_replayed(
        &mut self,
        records: &[OwnedMessage],
        next: &HashMap<i32, i64>,
    ) -> Result<(), ProjectorError> {
        let replayed: HashSet<String> = records
            .iter()
            .filter(|m| next.get(&m.partition()).is_some_and(|n| m.offset() < *n))
            .filter_map(|m| {
                m.key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .map(str::to_owned)
            })
            .collect();
        if replayed.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = replayed.into_iter().collect();
        let stored = self.store.begin().await?.load_orders(&ids).await?;
        self.cache.write(stored.into_values().collect()).await;
        Ok(())
    }

    fn count(&self, plan: &crate::fold::BatchPlan, dead_lettered: usize) {
        let h = &self.health;
        h.applied
            .fetch_add(plan.history.len() as u64, Ordering::Relaxed);
        h.ignored
            .fetch_add(plan.ignored.len() as u64, Ordering::Relaxed);
        h.dead_lettered
            .fetch_add(dead_lettered as u64, Ordering::Relaxed);
        h.batches.fetch_add(1, Ordering::Relaxed);
        for i in &plan.ignored {
            tracing::debug!(order_id = %i.order_id, current = i.current, got = i.got, partition = i.position.partition, offset = i.position.offset, "ignored a duplicate or conflicting event");
        }
    }

    /// Kafka's committed offsets are for monitoring tools only; Postgres is the truth.
    fn commit_to_kafka(&self, offsets: &[(i32, i64)]) {
        let mut tpl = TopicPartitionList::new();
        for &(partition, offset) in offsets {
            let _ = tpl.add_partition_offset(&self.topic, partition, Offset::Offset(offset));
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            tracing::debug!(error = %e, "committing offsets to Kafka failed (monitoring only)");
        }
    }
}

/// A rebuild skips poison records: the live projector dead-lettered them already.
fn log_skipped(poison: &[Poison]) {
    for p in poison {
        tracing::debug!(partition = p.position.partition, offset = p.position.offset, error = %p.error, "skipped a poison record");
    }
    tracing::info!(
        count = poison.len(),
        "skipped poison records (dead-lettered by the live projector)"
    );
}

fn poison_of(message: &OwnedMessage, error: String) -> Poison {
    Poison {
        position: Position {
            partition: message.partition(),
            offset: message.offset(),
        },
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        error,
    }
}
