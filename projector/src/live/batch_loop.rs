//! The batch loop of one group member: for each batch of its partitions, it folds and
//! writes it in one Postgres transaction on a connection of its own, together with the
//! partitions' next offsets. It dead-letters the batch's poison records before
//! committing, then hands the changed orders to the cache writer.
//!
//! A batch that fails for a transient reason (Postgres, the registry, the DLQ producer)
//! is retried whole, with backoff, until it succeeds: its transaction rolled back, so a
//! retry applies it exactly once. So is a batch holding a record whose schema id the
//! registry does not know (a lost or foreign registry, not a poison record), while
//! `/readyz` names that record. Records below a partition's stored next offset are
//! skipped, which makes any redelivery harmless.
//!
//! Each batch is one span (`batch_span::of`), with the cache write after its commit as a
//! child.

use crate::error::ProjectorError;
use crate::fold::model::{DecodedRecord, Position};
use crate::fold::{BatchPlan, fold_batch};
use crate::health::metrics::{self, Committed};
use crate::live::batch_span;
use crate::live::pipeline::{Ended, Pipeline};
use crate::live::poison::{Sorted, rejected_poison, sort_out};
use crate::live::ports::{
    BatchStore, BatchTransaction, CacheSink, DeadLetterSink, Decoder, LivePorts, OffsetMirror,
    Ports,
};
use crate::live::record::Record;
use crate::live::stages::{self, Staged};
use crate::sinks::dlq::Poison;
use orderflow_domain::Event;
use orderflow_platform::Backoff;
use orderflow_schemas::CodecError;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A batch loop and the next offset of each partition it owns.
pub struct Lane<P: Ports = LivePorts> {
    pipeline: Arc<Pipeline<P>>,
    /// Where committed offsets are mirrored for monitoring (the member's consumer).
    mirror: Arc<P::Mirror>,
    /// Next offset to fold of each owned partition (every record below it is committed).
    next: HashMap<i32, i64>,
    /// Kafka timestamp of the newest record committed of each owned partition (ms).
    newest: HashMap<i32, i64>,
}

/// What the idempotence guard lets through of a batch: records of owned partitions not
/// folded yet.
struct Fresh<'a> {
    decoded: Vec<&'a DecodedRecord>,
    poison: Vec<Poison>,
    /// The next offset this loop holds for each of the batch's partitions, checked
    /// against the stored one under lock.
    expected: Vec<(i32, i64)>,
    /// Each partition's next offset once the batch commits.
    offsets: Vec<(i32, i64)>,
    /// Each partition's newest record timestamp (ms), when its records carry one.
    newest: Vec<(i32, i64)>,
}

impl<P: Ports> Lane<P> {
    pub fn new(pipeline: Arc<Pipeline<P>>, mirror: Arc<P::Mirror>) -> Self {
        Lane {
            pipeline,
            mirror,
            next: HashMap::new(),
            newest: HashMap::new(),
        }
    }

    /// Runs until `stop` is cancelled, the feed ends, or the generation stops being live.
    pub async fn run(mut self, mut feed: mpsc::Receiver<Staged>, stop: CancellationToken) -> Ended {
        let mut next: Option<Staged> = None;
        loop {
            let message = match next.take() {
                Some(message) => Some(message),
                None => tokio::select! {
                    message = feed.recv() => message,
                    _ = stop.cancelled() => None,
                },
            };
            match message {
                Some(Staged::Assigned(offsets)) => {
                    self.next.extend(&offsets);
                    let restored = self.pipeline.positions(|p| p.assign(&offsets));
                    self.newest.extend(restored);
                }
                Some(Staged::Revoked(partitions, ack)) => {
                    for p in &partitions {
                        self.next.remove(p);
                        self.newest.remove(p);
                    }
                    self.pipeline.positions(|p| p.revoke(&partitions));
                    let _ = ack.send(());
                }
                Some(Staged::Batch(mut records, mut events)) => {
                    let max = self.pipeline.batch_max_records;
                    next = stages::merge_waiting(&mut records, &mut events, &mut feed, max);
                    if let Err(ended) = self.handle(&records, events, &stop).await {
                        return ended;
                    }
                    let (next, newest) = (&self.next, &self.newest);
                    self.pipeline.positions(|p| {
                        p.next.extend(next);
                        p.newest.extend(newest);
                    });
                }
                Some(Staged::EndOfPartition(partition)) => {
                    self.pipeline.positions(|p| p.at_end.insert(partition));
                }
                None => return Ended::Stopped,
            }
        }
    }

    /// Folds one batch, retrying until it is committed; `Err` when the loop must end.
    async fn handle(
        &mut self,
        records: &[Record],
        events: Vec<Result<Event, CodecError>>,
        stop: &CancellationToken,
    ) -> Result<(), Ended> {
        let handled = (self.retry_until_committed(records, events, stop))
            .instrument(batch_span::of(records))
            .await;
        // Committed past the record it waited at, or ending: either way this lane waits
        // on these partitions no more (a lane taking them over reports its own stall).
        self.pipeline
            .health
            .resume(records.iter().map(|r| r.partition));
        handled
    }

    async fn retry_until_committed(
        &mut self,
        records: &[Record],
        mut events: Vec<Result<Event, CodecError>>,
        stop: &CancellationToken,
    ) -> Result<(), Ended> {
        let mut sorted: Option<Sorted> = None;
        let mut backoff = Backoff::standard();
        let mut last_warning: Option<Instant> = None;
        let started = Instant::now();
        let waited = age_ms(records);
        loop {
            match self.attempt(records, &mut events, &mut sorted).await {
                Ok(committed) => {
                    self.pipeline.health.set_database_up(true);
                    let took = started.elapsed();
                    if let Some(committed) = committed {
                        metrics::batch_committed(self.pipeline.health.meter(), &committed, took);
                    }
                    // Where a record's time goes between its append and its commit.
                    tracing::debug!(records = records.len(), waited_ms = waited, committed_in = ?took, "batch committed");
                    return Ok(());
                }
                Err(ProjectorError::NotLive { generation }) => {
                    tracing::info!(generation, "the generation is no longer live");
                    return Err(Ended::NotLive);
                }
                Err(fenced @ ProjectorError::Fenced { .. }) => {
                    match self.adopt_stored(&fenced).await {
                        Ok(()) => continue,
                        Err(e) => warn_retry(&e, backoff.delay(), &mut last_warning),
                    }
                }
                Err(e) => {
                    self.report(&e);
                    warn_retry(&e, backoff.delay(), &mut last_warning);
                }
            }
            if stop.is_cancelled() {
                return Err(Ended::Stopped);
            }
            backoff.wait().await;
        }
    }

    /// Fencing: another instance moved a partition of the batch, so this loop adopts the
    /// stored offsets of its partitions; the batch is then folded again from them.
    async fn adopt_stored(&mut self, fenced: &ProjectorError) -> Result<(), ProjectorError> {
        if let ProjectorError::Fenced {
            partition,
            expected,
            stored,
        } = fenced
        {
            tracing::warn!(
                partition,
                expected,
                stored,
                "another instance moved the partition; adopting the stored offsets"
            );
        }
        let owned: Vec<i32> = self.next.keys().copied().collect();
        let stored = self.pipeline.store.claim_offsets(&owned).await?;
        self.next.extend(stored);
        Ok(())
    }

    /// Tells `/readyz` about a failure that keeps the projection from going on.
    fn report(&self, e: &ProjectorError) {
        match e {
            ProjectorError::Database(_) => self.pipeline.health.set_database_up(false),
            ProjectorError::UnknownSchema { partition, .. } => {
                self.pipeline.health.stall(*partition, e.to_string())
            }
            _ => {}
        }
    }

    /// One attempt at a batch: sorts it out the first time (once the registry has
    /// answered for every fresh record), then folds and commits what is still fresh; what
    /// the commit adds up to (`None`: nothing was fresh).
    async fn attempt(
        &mut self,
        records: &[Record],
        events: &mut Vec<Result<Event, CodecError>>,
        sorted: &mut Option<Sorted>,
    ) -> Result<Option<Committed>, ProjectorError> {
        if sorted.is_none() {
            self.decode_again(records, events).await?;
            *sorted = Some(sort_out(records, std::mem::take(events)));
        }
        let sorted = sorted.as_ref().expect("sorted out above");
        self.fold_and_commit(records, sorted).await
    }

    /// Asks the registry again for the fresh records it could not answer for when the
    /// decoder met them (a retry comes back here after its backoff); `Err` while it still
    /// cannot, so what is left as an error is poison. Records below the stored offset are
    /// dropped unfolded anyway: the registry is not waited for on their account.
    async fn decode_again(
        &self,
        records: &[Record],
        events: &mut [Result<Event, CodecError>],
    ) -> Result<(), ProjectorError> {
        for (record, event) in records.iter().zip(events.iter_mut()) {
            let waiting = matches!(event, Err(e) if !e.is_poison());
            if !waiting || !self.is_fresh(record.position()) {
                continue;
            }
            *event = self.pipeline.codec.decode(record.payload()).await;
            if let Err(e) = event
                && !e.is_poison()
            {
                let (partition, offset) = (record.partition, record.offset);
                return Err(ProjectorError::unreadable(partition, offset, e.clone()));
            }
        }
        Ok(())
    }

    fn is_fresh(&self, position: Position) -> bool {
        self.next
            .get(&position.partition)
            .is_some_and(|n| position.offset >= *n)
    }

    async fn fold_and_commit(
        &mut self,
        records: &[Record],
        sorted: &Sorted,
    ) -> Result<Option<Committed>, ProjectorError> {
        self.refresh_cache_for_replayed(records).await?;
        let Some(fresh) = self.guard(records, sorted) else {
            return Ok(None);
        };
        let offsets = fresh.offsets.clone();
        let (plan, committed) = self.commit(records, fresh).await?;

        self.next.extend(offsets.iter().copied());
        self.newest.extend(committed.newest.iter().copied());
        self.pipeline.count(&plan, &committed);
        self.mirror.mirror(&offsets);
        let views = plan.orders.into_iter().map(|c| c.view).collect();
        self.pipeline.cache.write(views, offsets).await;
        Ok(Some(committed))
    }

    /// The idempotence guard: only owned partitions, only records not yet folded. `None`
    /// when nothing of the batch is left.
    fn guard<'a>(&self, records: &[Record], sorted: &'a Sorted) -> Option<Fresh<'a>> {
        let mut new_next: BTreeMap<i32, i64> = BTreeMap::new();
        let mut newest: BTreeMap<i32, i64> = BTreeMap::new();
        for record in records {
            let position = record.position();
            if self.is_fresh(position) {
                let n = new_next.entry(position.partition).or_insert(0);
                *n = (*n).max(position.offset + 1);
                if let Some(created) = record.timestamp {
                    let t = newest.entry(position.partition).or_insert(created);
                    *t = (*t).max(created);
                }
            }
        }
        if new_next.is_empty() {
            return None;
        }
        Some(Fresh {
            decoded: (sorted.decoded.iter())
                .filter(|d| self.is_fresh(d.position))
                .collect(),
            poison: (sorted.poison.iter())
                .filter(|p| self.is_fresh(p.position))
                .cloned()
                .collect(),
            expected: new_next.keys().map(|p| (*p, self.next[p])).collect(),
            offsets: new_next.into_iter().collect(),
            newest: newest.into_iter().collect(),
        })
    }

    /// Folds the fresh records and writes them with their partitions' next offsets in one
    /// transaction, dead-lettering the poison before the commit. Returns the plan and what
    /// the batch adds up to.
    async fn commit(
        &self,
        records: &[Record],
        fresh: Fresh<'_>,
    ) -> Result<(BatchPlan, Committed), ProjectorError> {
        let Fresh {
            decoded,
            mut poison,
            expected,
            offsets,
            newest,
        } = fresh;
        let pipeline = &self.pipeline;
        let mut tx = pipeline.store.begin().await?;
        tx.lock_offsets(&expected).await?;
        let ids: HashSet<&str> = decoded.iter().map(|d| d.event.order_id.as_str()).collect();
        let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
        let current = tx.load_orders(&ids).await?;
        let plan = fold_batch(current, decoded);
        poison.extend(rejected_poison(records, &plan));
        let partitions: Vec<i32> = offsets.iter().map(|(p, _)| *p).collect();
        tx.write(&plan, &offsets, &pipeline.cache.confirmed(&partitions))
            .await?;
        if !poison.is_empty() {
            poison.sort_by_key(|p| p.position);
            pipeline.dead_letters.send_all(&poison).await?;
        }
        // Last: the analytics rows every lane updates stay locked only until the commit.
        tx.write_stats(&plan).await?;
        let committing = Instant::now();
        tx.commit().await?;
        let committed = Committed::new(&plan, &poison, committing.elapsed(), newest);
        Ok((plan, committed))
    }

    /// Records below the stored offset come back after an assignment, which fetches from
    /// where the cache is confirmed (ADR 0010), or after a redelivery. Their orders are
    /// already in Postgres, but a projector stopped between its commit and its cache
    /// write left Redis behind: write their stored state through again (the version guard
    /// keeps anything newer). This is the cache's catch-up step.
    async fn refresh_cache_for_replayed(&self, records: &[Record]) -> Result<(), ProjectorError> {
        let replayed: HashSet<String> = records
            .iter()
            .filter(|r| {
                let position = r.position();
                self.next.contains_key(&position.partition) && !self.is_fresh(position)
            })
            .filter_map(|r| r.key_str().map(str::to_owned))
            .collect();
        if replayed.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = replayed.into_iter().collect();
        let stored = self.pipeline.store.begin().await?.load_orders(&ids).await?;
        self.pipeline
            .cache
            .write(stored.into_values().collect(), Vec::new())
            .await;
        Ok(())
    }
}

fn warn_retry(e: &ProjectorError, backoff: Duration, last: &mut Option<Instant>) {
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!(error = %e, kind = e.kind(), "folding a batch failed; retrying the whole batch in {backoff:?}");
        *last = Some(Instant::now());
    }
}

/// How long ago the batch's first record was created (its Kafka timestamp), in ms.
fn age_ms(records: &[Record]) -> i64 {
    let created = records.first().and_then(|r| r.timestamp);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    created.map_or(0, |c| now - c)
}
