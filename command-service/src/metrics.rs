//! What the command service records for its operators (the names are the contract of
//! docs/operations.md): how commands were answered, how long the log took to confirm an
//! append, the replay's progress, the orders held in memory, the producer's queue and
//! whether the broker and the registry answer.
//!
//! Recording goes through the `metrics` facade and is a no-op until a recorder is
//! installed. The series a command touches are registered once, the first time the
//! platform's recorder is there (every label value is known in advance), so answering a
//! command costs an atomic increment: no key, allocation or lookup per request.

use crate::aggregates::Ack;
use crate::error::CommandError;
use crate::http::ApiError;
use crate::worker::WorkerContext;
use metrics::{Counter, Histogram};
use orderflow_domain::CommandKind;
use rdkafka::producer::Producer;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the producer's queue is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The `# HELP` lines of this service's series; once the recorder is installed.
pub(crate) fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "orderflow_commands_total",
        "Commands answered, by command, outcome and (for rejections) reason."
    );
    describe_histogram!(
        "orderflow_command_append_seconds",
        Unit::Seconds,
        "Time from handing an event to the producer to reading it back accepted by the fold."
    );
    describe_gauge!(
        "orderflow_replay_partitions",
        "Partitions this instance holds (state=held) and has replayed (state=done), of the log's partitions (state=total)."
    );
    describe_counter!(
        "orderflow_replay_events_total",
        "Records folded while replaying the log into memory."
    );
    describe_gauge!("orderflow_aggregates", "Orders held in memory.");
    describe_gauge!(
        "orderflow_producer_queue_messages",
        "Records handed to the producer and not yet acknowledged by the broker."
    );
    describe_gauge!(
        "orderflow_dependency_up",
        "1 when the dependency answered the service's last request to it, else 0."
    );
}

/// Counts the answer a command submitted to its worker got.
pub(crate) fn command_answered(kind: CommandKind, answer: &Result<Ack, CommandError>) {
    let (outcome, reason) = match answer {
        Ok(ack) if ack.replayed => ("replayed", ""),
        Ok(_) => ("accepted", ""),
        Err(e) => classify(e),
    };
    count_command(kind, outcome, reason);
}

/// Counts a command the HTTP layer refused before it reached a worker: a role that may
/// not send it (403), or a request that is not a valid command (400, 404, 413, 415, 422).
pub(crate) fn command_refused(kind: CommandKind, error: &ApiError) {
    let (outcome, reason) = match error {
        ApiError::Command(e) => classify(e),
        ApiError::Forbidden(_) => ("rejected", "forbidden"),
        _ => ("rejected", "invalid"),
    };
    count_command(kind, outcome, reason);
}

/// Every `(outcome, reason)` a command can get.
const ANSWERS: [(&str, &str); 12] = [
    ("accepted", ""),
    ("replayed", ""),
    ("conflict", ""),
    ("unavailable", ""),
    ("rejected", "invalid"),
    ("rejected", "not_found"),
    ("rejected", "transition_not_allowed"),
    ("rejected", "already_exists"),
    ("rejected", "idempotency_key_reused"),
    ("rejected", "location_limit"),
    ("rejected", "version_mismatch"),
    ("rejected", "forbidden"),
];

/// `(outcome, reason)` of a refused command.
fn classify(error: &CommandError) -> (&'static str, &'static str) {
    let rejected = |reason| ("rejected", reason);
    match error {
        CommandError::Invalid(_) => rejected("invalid"),
        CommandError::NotFound(_) => rejected("not_found"),
        CommandError::TransitionNotAllowed { .. } => rejected("transition_not_allowed"),
        CommandError::AlreadyExists(_) => rejected("already_exists"),
        CommandError::IdempotencyKeyReused => rejected("idempotency_key_reused"),
        CommandError::LocationLimit { .. } => rejected("location_limit"),
        CommandError::VersionMismatch { .. } => rejected("version_mismatch"),
        CommandError::ConcurrentWrite { .. } => ("conflict", ""),
        CommandError::Replaying | CommandError::Unavailable(_) | CommandError::Overloaded => {
            ("unavailable", "")
        }
    }
}

/// The `command` label: the path segment of the command (`location`, not the verb).
fn command_label(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Place => "place",
        CommandKind::Pack => "pack",
        CommandKind::Ship => "ship",
        CommandKind::UpdateLocation => "location",
        CommandKind::Deliver => "deliver",
        CommandKind::Cancel => "cancel",
        CommandKind::Confirm => "confirm",
        CommandKind::Reject => "reject",
    }
}

fn count_command(kind: CommandKind, outcome: &'static str, reason: &'static str) {
    static COUNTERS: OnceLock<Vec<Counter>> = OnceLock::new();
    let Some(counters) = registered(&COUNTERS, command_counters) else {
        return;
    };
    let answer = ANSWERS
        .iter()
        .position(|a| *a == (outcome, reason))
        .expect("every answer is listed");
    counters[kind as usize * ANSWERS.len() + answer].increment(1);
}

/// One counter per command kind and answer, in the order of `CommandKind::ALL`, then
/// [`ANSWERS`].
fn command_counters() -> Vec<Counter> {
    let kinds = CommandKind::ALL.into_iter().map(command_label);
    kinds
        .flat_map(|command| {
            ANSWERS.iter().map(move |&(outcome, reason)| {
                metrics::counter!(
                    "orderflow_commands_total",
                    "command" => command,
                    "outcome" => outcome,
                    "reason" => reason,
                )
            })
        })
        .collect()
}

/// The series in `cell`, made by `make` the first time the platform's recorder is
/// installed; `None` while there is none (recording would be a no-op).
fn registered<T>(cell: &'static OnceLock<T>, make: fn() -> T) -> Option<&'static T> {
    orderflow_platform::metrics::handle()?;
    Some(cell.get_or_init(make))
}

/// A command this instance sent on to the instance serving its order (ADR 0015):
/// `forwarded` (the owner answered, whatever it answered) or `failed` (503 here: no owner
/// known, unreachable, or a forwarded request that reached a non-owner).
pub(crate) fn forwarded(outcome: &'static str) {
    metrics::counter!("orderflow_commands_forwarded_total", "outcome" => outcome).increment(1);
}

/// An appended event was read back and accepted `elapsed` after it went to the producer.
pub(crate) fn append_confirmed(elapsed: Duration) {
    static APPEND: OnceLock<Histogram> = OnceLock::new();
    let make = || metrics::histogram!("orderflow_command_append_seconds");
    if let Some(histogram) = registered(&APPEND, make) {
        histogram.record(elapsed.as_secs_f64());
    }
}

/// The replay's progress: `done` of the `held` partitions this instance serves are
/// folded up to the log's end; the log has `total` (ADR 0015: instances share them).
pub(crate) fn replay_partitions(done: usize, held: usize, total: usize) {
    metrics::gauge!("orderflow_replay_partitions", "state" => "done").set(done as f64);
    metrics::gauge!("orderflow_replay_partitions", "state" => "held").set(held as f64);
    metrics::gauge!("orderflow_replay_partitions", "state" => "total").set(total as f64);
}

/// Whether `dependency` (`kafka`, `registry`) answered this service last time it asked.
pub(crate) fn dependency_up(dependency: &'static str, up: bool) {
    metrics::gauge!("orderflow_dependency_up", "dependency" => dependency).set(if up {
        1.0
    } else {
        0.0
    });
}

/// One worker's share of the process-wide figures. Kept in the worker and reported on its
/// tick, so folding a record costs an integer increment, not a metric update; what it
/// reported is withdrawn when the worker ends (a restart of the log side replays anew).
#[derive(Debug, Default)]
pub(crate) struct PartitionReport {
    /// Orders this worker last added to `orderflow_aggregates`.
    orders: usize,
    /// Records folded while replaying, not reported yet.
    replayed: u64,
}

impl PartitionReport {
    pub(crate) fn folded_while_replaying(&mut self) {
        self.replayed += 1;
    }

    /// Reports what changed since the last report; `orders` is the worker's order count.
    pub(crate) fn report(&mut self, orders: usize) {
        if self.replayed > 0 {
            metrics::counter!("orderflow_replay_events_total").increment(self.replayed);
            self.replayed = 0;
        }
        if orders != self.orders {
            let change = orders as f64 - self.orders as f64;
            metrics::gauge!("orderflow_aggregates").increment(change);
            self.orders = orders;
        }
    }
}

impl Drop for PartitionReport {
    fn drop(&mut self) {
        self.report(0);
    }
}

/// Samples the producer's queue (records handed over and not yet acknowledged by the
/// broker, or failed) until the log side is torn down; never ends by itself.
pub(crate) async fn sample_producer(ctx: Arc<WorkerContext>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let queued = ctx.producer.in_flight_count();
        metrics::gauge!("orderflow_producer_queue_messages").set(f64::from(queued.max(0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_domain::Status;

    #[test]
    fn every_refusal_has_a_bounded_outcome_and_reason() {
        let transition = CommandError::TransitionNotAllowed {
            order_id: "o".into(),
            from: Status::Delivered,
            command: CommandKind::Cancel,
        };
        assert_eq!(
            classify(&transition),
            ("rejected", "transition_not_allowed")
        );
        let conflict = CommandError::ConcurrentWrite {
            order_id: "o".into(),
            version: 2,
        };
        assert_eq!(classify(&conflict), ("conflict", ""));
        assert_eq!(classify(&CommandError::Overloaded), ("unavailable", ""));
        let refusals = [
            CommandError::Invalid(vec![]),
            CommandError::NotFound("o".into()),
            transition,
            CommandError::AlreadyExists("o".into()),
            CommandError::IdempotencyKeyReused,
            CommandError::LocationLimit {
                order_id: "o".into(),
                limit: 1,
            },
            CommandError::VersionMismatch {
                order_id: "o".into(),
                expected: "1".into(),
                current: 2,
            },
            conflict,
            CommandError::Replaying,
            CommandError::Unavailable("down".into()),
        ];
        for refusal in &refusals {
            assert!(ANSWERS.contains(&classify(refusal)), "{refusal:?}");
        }
    }

    #[test]
    fn the_command_label_is_the_path_segment() {
        let labels: Vec<_> = CommandKind::ALL.into_iter().map(command_label).collect();
        assert_eq!(
            labels,
            [
                "place", "pack", "ship", "location", "deliver", "cancel", "confirm", "reject"
            ]
        );
        // The counters are indexed by `kind as usize`, in the order of `ALL`.
        for (i, kind) in CommandKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
        }
    }
}
