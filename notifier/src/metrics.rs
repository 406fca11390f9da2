//! The notifier's series on `/metrics` (docs/operations.md lists them).

use crate::fold::Counts;

/// Records of the order log by how the fold took them, and the notices written.
pub fn folded(counts: &Counts, notices: usize) {
    for (outcome, n) in [
        ("accepted", counts.accepted),
        ("ignored", counts.ignored),
        ("unreadable", counts.unreadable),
        ("already_folded", counts.already_folded),
    ] {
        if n > 0 {
            metrics::counter!("orderflow_notifier_records_total", "outcome" => outcome)
                .increment(n);
        }
    }
    metrics::counter!("orderflow_notifier_notices_total").increment(notices as u64);
}

/// One delivery attempt's end: `delivered`, `failed` (retried), `parked` or `dropped`.
pub fn attempt(channel: &'static str, outcome: &'static str) {
    metrics::counter!("orderflow_notifier_deliveries_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}
