//! What `/readyz` reports and what gates commands: replayed from the log, broker reachable,
//! the broker not refusing this service's principal, the log still readable, and no
//! partition stalled at a record it cannot read yet.

use crate::metrics;
use crate::ownership::partitions::{Held, Partitions};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a refusal the reader saw counts: it sees one about every second while the
/// refusal lasts, and nothing once the ACL is granted again.
const REFUSAL_HOLDS: Duration = Duration::from_secs(10);

/// A refusal of this service's principal.
#[derive(Debug)]
struct Denial {
    reason: String,
    /// `None`: until [`Readiness::allowed`] (the log side is not up); else until then,
    /// unless seen again (the running reader was refused).
    until: Option<Instant>,
}

/// Shared readiness and counters of the service.
#[derive(Debug, Default)]
pub struct Readiness {
    /// What this instance does with each partition (ADR 0015).
    partitions: Partitions,
    broker_up: AtomicBool,
    ignored: AtomicU64,
    folded: AtomicU64,
    /// Why the log can no longer be read; set once, for good (a restart is the way out).
    failure: Mutex<Option<String>>,
    /// Partitions whose worker waits at a record whose schema the registry does not know,
    /// with why; each cleared once its record decodes (or the log side restarts).
    stalled: Mutex<BTreeMap<i32, String>>,
    /// Why the broker refuses this service's principal (no ACL for what it asked, a failed
    /// login). Not for good: an ACL granted later takes effect at the next retry.
    denied: Mutex<Option<Denial>>,
}

impl Readiness {
    /// A log of `partitions` partitions, none held until the group assigns some.
    pub fn expect_partitions(&self, partitions: usize) {
        self.partitions.expect(partitions);
        self.report_replay();
    }

    /// Back to "replaying", for a restart of the log side.
    pub(crate) fn reset(&self) {
        self.partitions.reset();
        self.stalled().clear();
        self.report_replay();
    }

    /// The group assigned `partitions` to this instance: each replays before it serves.
    /// Returns each one's assignment number (see [`Readiness::partition_replayed`]).
    pub(crate) fn assigned(&self, partitions: &[i32]) -> Vec<u64> {
        let numbers = self.partitions.assigned(partitions);
        self.report_replay();
        numbers
    }

    /// The group took `partitions` away: nothing is acknowledged for them any more.
    pub(crate) fn revoked(&self, partitions: &[i32]) {
        self.partitions.revoked(partitions);
        self.report_replay();
    }

    /// `partition` has been replayed for its assignment `assignment`.
    pub(crate) fn partition_replayed(&self, partition: i32, assignment: u64) {
        if self.partitions.replayed(partition, assignment) {
            let (serving, _) = self.partitions.progress();
            tracing::info!(
                partitions = serving,
                "state replayed from the log; accepting commands"
            );
        }
        self.report_replay();
    }

    /// What this instance does with `partition`.
    pub fn held(&self, partition: i32) -> Held {
        self.partitions.held(partition)
    }

    fn report_replay(&self) {
        let (serving, held) = self.partitions.progress();
        metrics::replay_partitions(serving, held, self.partitions.count());
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

    /// The broker refuses this service's principal while the log side comes up: not ready
    /// until [`Readiness::allowed`]. Logged once per distinct reason.
    pub(crate) fn deny(&self, reason: String) {
        self.set_denial(reason, None);
    }

    /// The running reader was refused (an ACL revoked): not ready while that goes on,
    /// that is until [`REFUSAL_HOLDS`] pass without another refusal.
    pub(crate) fn deny_while_refused(&self, reason: String) {
        self.set_denial(reason, Some(Instant::now() + REFUSAL_HOLDS));
    }

    fn set_denial(&self, reason: String, until: Option<Instant>) {
        let mut denied = self.denied();
        if denied.as_ref().map(|d| d.reason.as_str()) != Some(reason.as_str()) {
            tracing::error!(%reason, "the broker refuses this service; retrying until its ACLs allow it");
        }
        *denied = Some(Denial { reason, until });
    }

    /// The log side came up: the broker serves this service's principal.
    pub(crate) fn allowed(&self) {
        if let Some(denial) = self.denied().take() {
            tracing::info!(was = %denial.reason, "the broker serves this service again");
        }
    }

    /// Why the broker refuses this service's principal, if it does.
    pub fn access_denied(&self) -> Option<String> {
        let denied = self.denied();
        let denial = denied.as_ref()?;
        match denial.until {
            Some(until) if until < Instant::now() => None,
            _ => Some(denial.reason.clone()),
        }
    }

    fn denied(&self) -> std::sync::MutexGuard<'_, Option<Denial>> {
        self.denied.lock().unwrap_or_else(|e| e.into_inner())
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

    /// A member of the group, with every partition it holds folded up to where the log
    /// ended when it was assigned.
    pub fn is_replayed(&self) -> bool {
        self.partitions.is_replayed()
    }

    /// `(serving, held)` partitions, for progress reports.
    pub fn progress(&self) -> (usize, usize) {
        self.partitions.progress()
    }

    pub fn set_broker_up(&self, up: bool) {
        let was = self.broker_up.swap(up, Ordering::SeqCst);
        metrics::dependency_up("kafka", up);
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

/// Logs replay progress until every partition is done, then idles. `estimate` is the sum
/// of the high watermarks at the start.
pub(crate) async fn log_replay_progress(readiness: std::sync::Arc<Readiness>, estimate: i64) {
    let started = std::time::Instant::now();
    while !readiness.is_replayed() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (done, total) = readiness.progress();
        let events = readiness.folded();
        tracing::info!(events, estimate, partitions_done = done, partitions = total, elapsed = ?started.elapsed(), "replaying the log");
    }
    tracing::info!(events = readiness.folded(), ignored = readiness.ignored(), elapsed = ?started.elapsed(), "replay complete");
    // Stay in the supervised set without ending it: only a failure may end the set.
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_at_start_up_holds_until_the_log_side_comes_up() {
        let readiness = Readiness::default();
        assert_eq!(readiness.access_denied(), None);
        readiness.deny("not authorized to describe topic t: TOPIC_AUTHORIZATION_FAILED".into());
        assert!(
            readiness
                .access_denied()
                .unwrap()
                .contains("TOPIC_AUTHORIZATION_FAILED")
        );
        readiness.allowed();
        assert_eq!(readiness.access_denied(), None);
    }

    #[test]
    fn a_refusal_of_the_running_reader_lapses_once_it_stops() {
        let readiness = Readiness::default();
        readiness.deny_while_refused("not authorized to read topic t".into());
        assert!(readiness.access_denied().is_some());
        readiness.denied().as_mut().unwrap().until = Some(Instant::now());
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(readiness.access_denied(), None);
    }
}
