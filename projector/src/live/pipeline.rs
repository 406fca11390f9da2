//! The pipeline: one or more **members**, each a consumer-group member with its polling
//! thread, its decoder stage and its batch loop ([`Lane`]), sharing the Postgres pool, the
//! registry client, the dead-letter producer and the cache writer (`stages`).
//!
//! Each member writes on its own Postgres connection, so one batch's round trips and
//! commit overlap with another's statements: a single batch loop left Postgres idle for
//! most of each batch (docs/performance.md). Members are separate consumers rather than
//! loops behind one consumer because a consumer hands over a backlog one partition at a
//! time (measured on tansu 0.6, ADR 0009), which would keep all but one loop idle. Members of one process are ordinary group members: the group shares the
//! partitions among them exactly as among instances, so an order is only ever written by
//! the member owning its partition. The analytics rows every member updates are written
//! last in each transaction, in one fixed order (`store_write`), so members wait briefly
//! for each other's commit and never deadlock.

use crate::fold::BatchPlan;
use crate::health::Health;
use crate::health::metrics::Committed;
use crate::live::batch_loop::Lane;
use crate::live::consumer::{Feed, GroupConsumer};
use crate::live::ports::{LivePorts, Ports};
use crate::live::stages::spawn_decoder;
use crate::sinks::redis::Cache;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the members share: their ports (see `ports`), the health counters and the
/// positions.
pub struct Pipeline<P: Ports = LivePorts> {
    pub store: P::Store,
    pub codec: Arc<P::Decoder>,
    /// Where poison records go: for a rebuild, whose poison records the live projector
    /// has dead-lettered already, nowhere (they are counted and logged instead).
    pub dead_letters: P::DeadLetters,
    pub cache: P::Cache,
    pub health: Arc<Health>,
    /// Where the members are, shared with the lag and progress reporters.
    pub positions: Arc<Mutex<Positions>>,
    /// Most records one transaction folds (batches waiting together are merged up to it).
    pub batch_max_records: usize,
}

/// One group member: its consumer and the polling thread that feeds its batch loop.
pub struct Member {
    pub consumer: Arc<GroupConsumer>,
    pub feed: mpsc::Receiver<Feed>,
    /// Stops the polling thread; cancelled only once the batch loop has ended.
    pub poll_stop: CancellationToken,
    pub poller: std::thread::JoinHandle<()>,
}

impl Member {
    /// Leaves the group without having run.
    pub async fn abandon(self) {
        Self::leave(self.poll_stop, self.poller).await;
    }

    /// Stops polling and leaves the group. The polling thread holds the last handle of the
    /// consumer, so closing it happens there, where the rebalance callback may block.
    async fn leave(poll_stop: CancellationToken, poller: std::thread::JoinHandle<()>) {
        poll_stop.cancel();
        let _ = tokio::task::spawn_blocking(move || poller.join()).await;
    }
}

/// The pipeline's position in the log.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    /// Next offset to fold of each owned partition (every record below it is committed).
    pub next: HashMap<i32, i64>,
    /// Partitions whose end of log was reached at least once, with everything before it
    /// committed (only reported when the consumer asks for end-of-partition events).
    pub at_end: HashSet<i32>,
    /// Kafka timestamp (ms since the epoch) of the newest record committed of each owned
    /// partition, since this process took it.
    pub newest: HashMap<i32, i64>,
    /// The newest timestamp of each partition this process gave up, with the next offset
    /// it held then: the members of one process rebalance among themselves as they join,
    /// and a partition that comes back to any of them unchanged keeps its age.
    released: HashMap<i32, (i64, i64)>,
}

impl Positions {
    /// Takes `offsets` (next offset by partition, as stored); returns the newest timestamp
    /// of each partition that comes back at the offset this process released it at.
    pub fn assign(&mut self, offsets: &HashMap<i32, i64>) -> HashMap<i32, i64> {
        self.next.extend(offsets);
        let restored: HashMap<i32, i64> = offsets
            .iter()
            .filter_map(|(p, next)| match self.released.remove(p) {
                Some((at, newest)) if at == *next => Some((*p, newest)),
                _ => None,
            })
            .collect();
        self.newest.extend(&restored);
        restored
    }

    /// Gives up `partitions`, remembering how far each was folded.
    pub fn revoke(&mut self, partitions: &[i32]) {
        for p in partitions {
            let next = self.next.remove(p);
            if let (Some(next), Some(newest)) = (next, self.newest.remove(p)) {
                self.released.insert(*p, (next, newest));
            }
        }
    }

    /// Records folded so far over all partitions (every offset below `next`).
    pub fn folded(&self) -> u64 {
        self.next.values().sum::<i64>().max(0) as u64
    }
}

/// Why the pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `stop` was cancelled, or the polling thread is gone.
    Stopped,
    /// The generation written is no longer live (a switch happened): reconnect.
    NotLive,
}

impl Pipeline {
    /// Runs the members until `run` is cancelled, a polling thread is gone, or the
    /// generation stops being live; the first member to end cancels `run`, which ends the
    /// others (between their batches). Every member has left the group when this returns.
    pub async fn run(self, members: Vec<Member>, run: CancellationToken) -> (Ended, Cache) {
        let shared = Arc::new(self);
        let running: Vec<_> = members
            .into_iter()
            .map(|member| {
                let staged = spawn_decoder(shared.codec.clone(), member.feed);
                let lane = Lane::new(shared.clone(), member.consumer);
                let run = run.clone();
                let (poll_stop, poller) = (member.poll_stop, member.poller);
                tokio::spawn(async move {
                    // Ends the polling thread even when this task is dropped unfinished
                    // (a runtime shutting down), not only after the loop below.
                    let _poller_stops = poll_stop.clone().drop_guard();
                    let ended = lane.run(staged, run.clone()).await;
                    run.cancel();
                    Member::leave(poll_stop, poller).await;
                    ended
                })
            })
            .collect();
        let mut ended = Ended::Stopped;
        for member in running {
            if let Ok(Ended::NotLive) = member.await {
                ended = Ended::NotLive;
            }
        }
        let pipeline = Arc::into_inner(shared).expect("every member has ended");
        (ended, pipeline.cache.finish().await)
    }
}

impl<P: Ports> Pipeline<P> {
    /// Updates the shared positions.
    pub(crate) fn positions<T>(&self, update: impl FnOnce(&mut Positions) -> T) -> T {
        update(&mut self.positions.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a committed batch to the `/readyz` counters.
    pub(crate) fn count(&self, plan: &BatchPlan, committed: &Committed) {
        let h = &self.health;
        h.applied.fetch_add(committed.applied, Ordering::Relaxed);
        h.ignored.fetch_add(committed.ignored, Ordering::Relaxed);
        h.dead_lettered
            .fetch_add(committed.dead_lettered(), Ordering::Relaxed);
        h.batches.fetch_add(1, Ordering::Relaxed);
        for i in &plan.ignored {
            tracing::debug!(order_id = %i.order_id, current = i.current, got = i.got, partition = i.position.partition, offset = i.position.offset, "ignored a duplicate or conflicting event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Positions;
    use std::collections::HashMap;

    fn folded(partitions: &[(i32, i64, i64)]) -> Positions {
        let mut positions = Positions::default();
        for &(p, next, newest) in partitions {
            positions.next.insert(p, next);
            positions.newest.insert(p, newest);
        }
        positions
    }

    #[test]
    fn a_partition_back_at_the_offset_it_left_keeps_the_age_of_its_newest_record() {
        let mut positions = folded(&[(0, 5, 1_000), (1, 7, 2_000)]);
        positions.revoke(&[1]);
        assert_eq!(positions.newest.get(&1), None);

        let restored = positions.assign(&HashMap::from([(1, 7)]));

        assert_eq!(restored, HashMap::from([(1, 2_000)]));
        assert_eq!(positions.newest.get(&1), Some(&2_000));
        assert_eq!(positions.next.get(&1), Some(&7));
    }

    #[test]
    fn a_partition_folded_elsewhere_meanwhile_comes_back_without_an_age() {
        let mut positions = folded(&[(1, 7, 2_000)]);
        positions.revoke(&[1]);

        let restored = positions.assign(&HashMap::from([(1, 9)]));

        assert!(restored.is_empty());
        assert_eq!(positions.newest.get(&1), None);
        assert_eq!(positions.next.get(&1), Some(&9));
    }

    #[test]
    fn a_partition_never_folded_here_has_no_age() {
        let mut positions = Positions::default();
        assert!(positions.assign(&HashMap::from([(2, 0)])).is_empty());
        assert!(positions.newest.is_empty());
    }
}
