//! The notifier's series on `/metrics` (docs/operations.md lists them).

use crate::health::Health;
use crate::store::Folded;
use sqlx::PgPool;
use std::time::Duration;

/// How often the gauges are sampled (Prometheus scrapes every 15 s).
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Records of the order log by how the fold took them, the notices they made and the
/// deliveries queued for them.
pub fn folded(folded: &Folded) {
    let counts = &folded.counts;
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
    metrics::counter!("orderflow_notifier_notices_total").increment(folded.notices as u64);
    metrics::counter!("orderflow_notifier_deliveries_queued_total").increment(folded.queued);
}

/// One delivery attempt's end: `delivered`, `failed` (retried), `parked` or `dropped`.
pub fn attempt(channel: &'static str, outcome: &'static str) {
    metrics::counter!("orderflow_notifier_deliveries_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}

/// Samples the gauges until the task is aborted: each dependency as last seen, the
/// deliveries pending and parked, and how late the oldest due delivery is (a worker that
/// is stuck, or a receiver that holds its order's line, shows as a growing lateness).
pub async fn sample(pool: PgPool, health: std::sync::Arc<Health>) {
    loop {
        for (dependency, up) in [
            ("postgres", health.database_up()),
            ("kafka", health.kafka_up()),
            ("registry", health.registry_up()),
        ] {
            metrics::gauge!("orderflow_dependency_up", "dependency" => dependency).set(if up {
                1.0
            } else {
                0.0
            });
        }
        let counted: Result<(i64, i64, f64), sqlx::Error> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM notifier.deliveries WHERE state = 'pending'),
                    (SELECT count(*) FROM notifier.deliveries WHERE state = 'parked'),
                    coalesce((SELECT extract(epoch FROM now() - min(due_at))::float8
                              FROM notifier.deliveries
                              WHERE state = 'pending' AND due_at <= now()), 0)",
        )
        .fetch_one(&pool)
        .await;
        if let Ok((pending, parked, late)) = counted {
            metrics::gauge!("orderflow_notifier_deliveries", "state" => "pending")
                .set(pending as f64);
            metrics::gauge!("orderflow_notifier_deliveries", "state" => "parked")
                .set(parked as f64);
            metrics::gauge!("orderflow_notifier_oldest_due_seconds").set(late);
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}
