//! The fulfilment service's series on `/metrics` (docs/operations.md lists them).

use crate::saga::steps::StepOutcome;

/// A record a fold left out: `log` is `inventory`, `payments` or `orders`; `reason` is
/// `version` (another writer's duplicate), `not_allowed` (the invariants forbid it) or
/// `unreadable` (it does not decode).
pub fn ledger_ignored(log: &'static str, reason: &'static str) {
    metrics::counter!("orderflow_fulfilment_ignored_total", "log" => log, "reason" => reason)
        .increment(1);
}

/// One saga step's end.
pub fn step(step: &'static str, outcome: &StepOutcome) {
    let outcome = match outcome {
        StepOutcome::Done => "done",
        StepOutcome::AwaitLog => "done",
        StepOutcome::Refusal(_) => "refused",
        StepOutcome::Failed(_) => "failed",
    };
    metrics::counter!("orderflow_fulfilment_steps_total", "step" => step, "outcome" => outcome)
        .increment(1);
}

/// The sagas in memory (not finished) and those whose next step is overdue.
pub fn sagas(open: usize, stuck: usize) {
    metrics::gauge!("orderflow_fulfilment_sagas_open").set(open as f64);
    metrics::gauge!("orderflow_fulfilment_sagas_stuck").set(stuck as f64);
}
