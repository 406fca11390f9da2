//! The projector's Prometheus series. Their names are the contract of issue 16 between
//! this code, the alert rules and the dashboards; docs/operations.md ("Metrics") says
//! what each means to an operator. They are recorded through the `metrics` facade: with no recorder
//! installed (`ORDERFLOW_METRICS=disabled`, the command-line tools) every call is a no-op.
//!
//! They come in three ways, none of them per record:
//! - each committed batch records its figures once ([`batch_committed`]), after its
//!   transaction committed, so a batch that rolls back (and is retried) never counts:
//!   effectively once holds for the series as for the read model;
//! - what `/readyz` reports ([`Health`]) is copied into gauges every [`EXPORT_INTERVAL`]
//!   by [`export`], which also advances the cache's counters by what its atomics moved;
//! - the lag reporter (`lag`) sets the per-partition lag and age of the newest event.
//!
//! A rebuild runs the same pipeline with a [`Meter::Rebuild`] health: its batches only
//! count towards the rebuild's series, never towards the live projector's.

use crate::fold::BatchPlan;
use crate::health::Health;
use crate::sinks::dlq::{Poison, PoisonKind};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the state of [`Health`] is copied into gauges.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);

const EVENTS: &str = "orderflow_projector_events_total";
const BATCH_RECORDS: &str = "orderflow_projector_batch_records";
const BATCH_DURATION: &str = "orderflow_projector_batch_duration_seconds";
const COMMIT_DURATION: &str = "orderflow_projector_commit_duration_seconds";
const CACHE_WRITES: &str = "orderflow_projector_cache_writes_total";
const CACHE_PENDING: &str = "orderflow_projector_cache_pending";
const LAG: &str = "orderflow_projector_consumer_lag_records";
const LAST_EVENT: &str = "orderflow_projector_last_event_timestamp_seconds";
const SINCE_LAST_EVENT: &str = "orderflow_projector_seconds_since_last_event";
const ASSIGNED: &str = "orderflow_projector_partitions_assigned";
const AHEAD_OF_LOG: &str = "orderflow_projector_partitions_ahead_of_log";
const STALLED: &str = "orderflow_projector_stalled_partitions";
const READY: &str = "orderflow_projector_ready";
const LIVE_GENERATION: &str = "orderflow_projector_live_generation";
const REBUILD_EVENTS: &str = "orderflow_projector_rebuild_events_total";
const REBUILD_PROGRESS: &str = "orderflow_projector_rebuild_progress_ratio";
const DEPENDENCY_UP: &str = "orderflow_dependency_up";

/// The only reason an event is ignored: its version is not the order's next one (a
/// duplicate or a conflicting append).
const VERSION_CONFLICT: &str = "version_conflict";

/// Which series a pipeline's batches feed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    /// The live projector: events, batches, lag.
    #[default]
    Live,
    /// A rebuild: only its own events and progress.
    Rebuild,
}

/// What one committed batch adds to the series.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Committed {
    /// Events folded into the read model.
    pub applied: u64,
    /// Events the fold rule ignored (version conflicts).
    pub ignored: u64,
    /// Poison records per kind ([`PoisonKind::index`]): dead-lettered, or, for a rebuild,
    /// passed over.
    pub poison: [u64; PoisonKind::ALL.len()],
    /// How long Postgres took to commit the transaction.
    pub commit: Duration,
    /// Per partition of the batch, the Kafka timestamp of its newest record (ms since the
    /// epoch), for partitions whose records carry one.
    pub newest: Vec<(i32, i64)>,
}

impl Committed {
    /// What a batch that folded into `plan`, with `poison`, adds up to.
    pub fn new(
        plan: &BatchPlan,
        poison: &[Poison],
        commit: Duration,
        newest: Vec<(i32, i64)>,
    ) -> Committed {
        let mut committed = Committed {
            applied: plan.history.len() as u64,
            ignored: plan.ignored.len() as u64,
            commit,
            newest,
            ..Committed::default()
        };
        for p in poison {
            committed.poison[p.kind.index()] += 1;
        }
        committed
    }

    /// Poison records, whatever their kind.
    pub fn dead_lettered(&self) -> u64 {
        self.poison.iter().sum()
    }

    /// Records the batch folded past: applied, ignored and poison.
    pub fn records(&self) -> u64 {
        self.applied + self.ignored + self.dead_lettered()
    }
}

/// Records a committed batch that took `took` from being taken up (retries included) to
/// its commit.
pub fn batch_committed(meter: Meter, batch: &Committed, took: Duration) {
    if meter == Meter::Rebuild {
        counter!(REBUILD_EVENTS).increment(batch.records());
        return;
    }
    events("applied", "", batch.applied);
    events("ignored", VERSION_CONFLICT, batch.ignored);
    for kind in PoisonKind::ALL {
        events("dead_lettered", kind.as_str(), batch.poison[kind.index()]);
    }
    histogram!(BATCH_RECORDS).record(batch.records() as f64);
    histogram!(BATCH_DURATION).record(took);
    histogram!(COMMIT_DURATION).record(batch.commit);
    for &(partition, millis) in &batch.newest {
        gauge!(LAST_EVENT, "partition" => partition.to_string()).set(millis as f64 / 1000.0);
    }
}

fn events(outcome: &'static str, reason: &'static str, count: u64) {
    if count > 0 {
        counter!(EVENTS, "outcome" => outcome, "reason" => reason).increment(count);
    }
}

/// Every series of events at 0, so that an alert on their increase sees the first one.
fn register_events() {
    let zero = |outcome: &'static str, reason: &'static str| {
        counter!(EVENTS, "outcome" => outcome, "reason" => reason).increment(0);
    };
    zero("applied", "");
    zero("ignored", VERSION_CONFLICT);
    for kind in PoisonKind::ALL {
        zero("dead_lettered", kind.as_str());
    }
    for result in ["ok", "failed"] {
        counter!(CACHE_WRITES, "result" => result).increment(0);
    }
}

/// The lag reporter's figures for one owned partition: records between the committed
/// position and the log's end (`None`: the broker did not tell it), and seconds since the
/// newest record folded was appended (`None`: none was folded since this process took the
/// partition). A figure not known leaves its gauge as it was.
pub fn partition_lag(partition: i32, records: Option<i64>, since_last_event: Option<f64>) {
    let label = partition.to_string();
    if let Some(records) = records {
        gauge!(LAG, "partition" => label.clone()).set(records.max(0) as f64);
    }
    if let Some(seconds) = since_last_event {
        gauge!(SINCE_LAST_EVENT, "partition" => label).set(seconds.max(0.0));
    }
}

/// A partition this instance no longer owns: its lag is another member's to report, so
/// this one's says 0 rather than the last figure it knew (series are summed or maxed over
/// instances).
pub fn partition_released(partition: i32) {
    let label = partition.to_string();
    gauge!(LAG, "partition" => label.clone()).set(0.0);
    gauge!(SINCE_LAST_EVENT, "partition" => label).set(0.0);
}

/// The live projector writes generation `id`.
pub fn live_generation(id: i64) {
    gauge!(LIVE_GENERATION).set(id as f64);
}

/// A rebuild folded `done` of the `total` records it has to.
pub fn rebuild_progress(done: u64, total: u64) {
    // From the first report on, so a rebuild with nothing to fold shows its 0 too.
    counter!(REBUILD_EVENTS).increment(0);
    let ratio = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    };
    gauge!(REBUILD_PROGRESS).set(ratio);
}

/// Copies the state of `health` into gauges every [`EXPORT_INTERVAL`] until `stop` is
/// cancelled. One task per process, for the live projector's health.
pub async fn export(health: Arc<Health>, stop: CancellationToken) {
    describe();
    register_events();
    let mut seen = Seen::default();
    let mut tick = tokio::time::interval(EXPORT_INTERVAL);
    stop.run_until_cancelled(async {
        loop {
            tick.tick().await;
            copy_state(&health, &mut seen);
        }
    })
    .await;
}

/// The cache counters as last copied, so each copy adds only what they moved since:
/// the series stay a sum over every pipeline recording into one process.
#[derive(Debug, Default)]
struct Seen {
    written: u64,
    failed: u64,
}

fn copy_state(health: &Health, seen: &mut Seen) {
    gauge!(ASSIGNED).set(health.assigned().values().sum::<usize>() as f64);
    gauge!(AHEAD_OF_LOG).set(health.ahead().len() as f64);
    gauge!(STALLED).set(health.stalled().len() as f64);
    gauge!(READY).set(flag(health.is_ready()));
    let database_up = health.database_up.load(Ordering::SeqCst);
    let kafka_up = health.kafka_up.load(Ordering::SeqCst);
    let cache = &health.cache;
    let redis_up = !cache.failing.load(Ordering::Relaxed);
    for (dependency, up) in [
        ("kafka", kafka_up),
        ("postgres", database_up),
        ("redis", redis_up),
    ] {
        gauge!(DEPENDENCY_UP, "dependency" => dependency).set(flag(up));
    }
    gauge!(CACHE_PENDING).set(cache.pending.load(Ordering::Relaxed) as f64);
    let written = cache.written.load(Ordering::Relaxed);
    let failed = cache.failed.load(Ordering::Relaxed);
    counter!(CACHE_WRITES, "result" => "ok").increment(written.saturating_sub(seen.written));
    counter!(CACHE_WRITES, "result" => "failed").increment(failed.saturating_sub(seen.failed));
    *seen = Seen { written, failed };
}

/// The `# HELP` lines of the projector's series (once a recorder is installed).
pub fn describe() {
    describe_counter!(
        EVENTS,
        "Records the projector committed past, by outcome (applied, ignored, dead_lettered) and reason."
    );
    describe_histogram!(BATCH_RECORDS, "Records per committed batch.");
    describe_histogram!(
        BATCH_DURATION,
        Unit::Seconds,
        "Time from taking up a batch to its commit, retries included."
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "Time Postgres took to commit a batch's transaction."
    );
    describe_counter!(
        CACHE_WRITES,
        "Batches written through to Redis, by result (ok, failed)."
    );
    describe_gauge!(
        CACHE_PENDING,
        "Orders whose Redis write failed, waiting to be written again."
    );
    describe_gauge!(
        LAG,
        "Records between the committed position and the end of the log, by partition."
    );
    describe_gauge!(
        LAST_EVENT,
        Unit::Seconds,
        "Unix time at which the newest record committed was appended to the log, by partition."
    );
    describe_gauge!(
        SINCE_LAST_EVENT,
        Unit::Seconds,
        "Seconds since the newest record committed was appended to the log, by partition."
    );
    describe_gauge!(
        ASSIGNED,
        "Partitions the consumer group assigned to this instance."
    );
    describe_gauge!(
        AHEAD_OF_LOG,
        "Partitions left unconsumed because the read model is ahead of the log."
    );
    describe_gauge!(
        STALLED,
        "Partitions waiting at a record whose schema the registry does not know."
    );
    describe_gauge!(READY, "1 when /readyz answers 200, else 0.");
    describe_gauge!(
        LIVE_GENERATION,
        "Id of the read-model generation the projector writes."
    );
    describe_counter!(REBUILD_EVENTS, "Records a rebuild committed past.");
    describe_gauge!(
        REBUILD_PROGRESS,
        "Share of the log a running rebuild has folded (0 to 1)."
    );
    describe_gauge!(
        DEPENDENCY_UP,
        "1 when the dependency answered the last request, else 0."
    );
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_counts_every_record_it_folded_past_once() {
        let mut batch = Committed {
            applied: 5,
            ignored: 2,
            ..Committed::default()
        };
        batch.poison[PoisonKind::KeyMismatch.index()] = 1;
        batch.poison[PoisonKind::TransitionNotAllowed.index()] = 2;
        assert_eq!(batch.dead_lettered(), 3);
        assert_eq!(batch.records(), 10);
    }

    #[test]
    fn poison_kinds_index_their_own_place() {
        for (i, kind) in PoisonKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{}", kind.as_str());
        }
    }
}
