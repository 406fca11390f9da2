//! What `/readyz` reports and what gates commands: replayed from the log, broker reachable,
//! the log still readable, and no partition stalled at a record it cannot read yet.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Shared readiness and counters of the service.
#[derive(Debug, Default)]
pub struct Readiness {
    partitions: AtomicUsize,
    replayed: AtomicUsize,
    broker_up: AtomicBool,
    ignored: AtomicU64,
    folded: AtomicU64,
    /// Why the log can no longer be read; set once, for good (a restart is the way out).
    failure: Mutex<Option<String>>,
    /// Partitions whose worker waits at a record whose schema the registry does not know,
    /// with why; each cleared once its record decodes (or the log side restarts).
    stalled: Mutex<BTreeMap<i32, String>>,
}

impl Readiness {
    /// Starts counting down the replay of `partitions` partitions.
    pub fn expect_partitions(&self, partitions: usize) {
        self.partitions.store(partitions, Ordering::SeqCst);
    }

    /// Back to "replaying", for a restart of the log side.
    pub(crate) fn reset(&self) {
        self.replayed.store(0, Ordering::SeqCst);
        self.stalled().clear();
    }

    pub(crate) fn partition_replayed(&self) {
        let done = self.replayed.fetch_add(1, Ordering::SeqCst) + 1;
        if done == self.partitions.load(Ordering::SeqCst) {
            tracing::info!(
                partitions = done,
                "state replayed from the log; accepting commands"
            );
        }
    }

    /// The log this service folds is gone or unreadable: not ready until restarted, and
    /// every command is refused. Logged loudly once.
    pub(crate) fn fail(&self, reason: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            tracing::error!(%reason, "the command service stops reading the log; it is not ready until restarted");
            *failure = Some(reason);
        }
    }

    /// Why the log can no longer be read, if it cannot.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `partition` cannot read on: not ready, and its commands are refused, until
    /// [`Readiness::resume`]. Logged loudly once per stall.
    pub(crate) fn stall(&self, partition: i32, reason: String) {
        if self.stalled().insert(partition, reason.clone()).is_none() {
            tracing::error!(partition, %reason, "the partition stops reading the log at this record");
        }
    }

    /// `partition` reads on.
    pub(crate) fn resume(&self, partition: i32) {
        if self.stalled().remove(&partition).is_some() {
            tracing::info!(partition, "the partition reads the log again");
        }
    }

    /// Why `partition` cannot read on, if it cannot.
    pub fn stalled_at(&self, partition: i32) -> Option<String> {
        self.stalled().get(&partition).cloned()
    }

    /// Why the first stalled partition cannot read on, if any is stalled.
    pub fn stall_reason(&self) -> Option<String> {
        self.stalled().values().next().cloned()
    }

    fn stalled(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, String>> {
        self.stalled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every partition has been folded up to where the log ended at start-up.
    pub fn is_replayed(&self) -> bool {
        let partitions = self.partitions.load(Ordering::SeqCst);
        partitions > 0 && self.replayed.load(Ordering::SeqCst) >= partitions
    }

    /// `(replayed, total)` partitions, for progress reports.
    pub fn progress(&self) -> (usize, usize) {
        (
            self.replayed.load(Ordering::SeqCst),
            self.partitions.load(Ordering::SeqCst),
        )
    }

    pub fn set_broker_up(&self, up: bool) {
        let was = self.broker_up.swap(up, Ordering::SeqCst);
        if was != up {
            if up {
                tracing::info!("broker reachable");
            } else {
                tracing::warn!("broker unreachable; commands get 503 until it returns");
            }
        }
    }

    pub fn is_broker_up(&self) -> bool {
        self.broker_up.load(Ordering::SeqCst)
    }

    pub(crate) fn count_folded(&self) {
        self.folded.fetch_add(1, Ordering::Relaxed);
    }

    /// Records read from the log and folded since start-up.
    pub fn folded(&self) -> u64 {
        self.folded.load(Ordering::Relaxed)
    }

    pub(crate) fn count_ignored(&self) {
        self.ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// Events the fold ignored (conflicts, duplicates) and records that could not be read.
    pub fn ignored(&self) -> u64 {
        self.ignored.load(Ordering::Relaxed)
    }
}
