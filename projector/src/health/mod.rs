//! `/healthz` and `/readyz`, and the counters they report; `metrics` turns them into
//! Prometheus series, `lag` reports how far behind the log the projection is.

pub(crate) mod lag;
pub(crate) mod metrics;

use crate::health::metrics::Meter;
use crate::live::consumer::AheadOfLog;
use crate::sinks::redis::CacheStats;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use orderflow_platform::access_denied;
use rdkafka::error::KafkaError;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Readiness and counters of the projector, shared by its tasks.
#[derive(Debug, Default)]
pub struct Health {
    /// Partitions of each member that has joined, by member.
    assigned: Mutex<HashMap<usize, usize>>,
    /// Partitions left unconsumed because the read model is ahead of the log.
    ahead_of_log: Mutex<BTreeMap<i32, AheadOfLog>>,
    database_up: AtomicBool,
    /// Whether the broker answered the last time the projector asked it something (a
    /// connect, the lag reporter's metadata probe); false until the first connect.
    kafka_up: AtomicBool,
    /// Which series the pipeline's batches feed.
    meter: Meter,
    /// Why the log can no longer be read or trusted; set once, for good.
    failure: Mutex<Option<String>>,
    /// Partitions whose batch waits at a record whose schema the registry does not know,
    /// with why; cleared once the batch commits (or its lane stops).
    stalled: Mutex<BTreeMap<i32, String>>,
    /// Why the broker refuses the projector's principal (no ACL for what it asked, a
    /// failed login); cleared once it connects. Not for good: the projector retries, so an
    /// ACL granted later takes effect without a restart.
    denied: Mutex<Option<String>>,
    /// Events folded into the read model.
    pub applied: AtomicU64,
    /// Events the fold rule ignored: duplicates and conflicting appends.
    pub ignored: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Batches committed to Postgres.
    pub batches: AtomicU64,
    /// Redis write-through counters.
    pub cache: Arc<CacheStats>,
}

impl Health {
    /// The health of a rebuild's pipeline: its batches count as the rebuild's, never as
    /// the live projector's.
    pub fn rebuild() -> Health {
        Health {
            meter: Meter::Rebuild,
            ..Health::default()
        }
    }

    /// Which series the pipeline's batches feed.
    pub(crate) fn meter(&self) -> Meter {
        self.meter
    }

    /// Whether the broker answered the last request (for `orderflow_dependency_up`).
    pub fn set_kafka_up(&self, up: bool) {
        self.kafka_up.store(up, Ordering::SeqCst);
    }

    /// The group gave `member` its (possibly empty) share of partitions.
    pub fn set_assignment(&self, member: usize, partitions: usize) {
        self.assigned().insert(member, partitions);
    }

    /// Of the `assigned` partitions, those in `ahead` are ahead of the log (and left
    /// unconsumed); the others are not.
    pub fn set_ahead_of_log(&self, assigned: &[i32], ahead: &[AheadOfLog]) {
        let mut flagged = self.ahead_of_log.lock().unwrap_or_else(|e| e.into_inner());
        for partition in assigned {
            flagged.remove(partition);
        }
        flagged.extend(ahead.iter().map(|a| (a.partition, *a)));
    }

    fn ahead(&self) -> Vec<AheadOfLog> {
        let flagged = self.ahead_of_log.lock().unwrap_or_else(|e| e.into_inner());
        flagged.values().copied().collect()
    }

    fn assigned(&self) -> std::sync::MutexGuard<'_, HashMap<usize, usize>> {
        self.assigned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A member joined: the process consumes. The others may still be joining (their
    /// join rebalances the group, which can take a while); the assigned partitions show
    /// how far the group got.
    fn joined(&self) -> bool {
        !self.assigned().is_empty()
    }

    /// The log is gone or not the one the read model folded: not ready until restarted
    /// (after a rebuild, docs/runbook-rebuild.md). Logged loudly once.
    pub fn fail(&self, reason: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            tracing::error!(%reason, "the projector stops reading the log; it is not ready until restarted");
            *failure = Some(reason);
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The batch holding `partition` waits at a record it cannot read: not ready until
    /// [`Health::resume`]. Logged loudly once per stall.
    pub fn stall(&self, partition: i32, reason: String) {
        if self.stalled().insert(partition, reason.clone()).is_none() {
            tracing::error!(partition, %reason, "the projection stops at this record");
        }
    }

    /// The batch of `partitions` was committed (or left to another lane).
    pub fn resume(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut stalled = self.stalled();
        for partition in partitions {
            if stalled.remove(&partition).is_some() {
                tracing::info!(
                    partition,
                    "the projection no longer waits at a record of the partition"
                );
            }
        }
    }

    fn stalled(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, String>> {
        self.stalled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connect attempt failed with `error`: when the broker refused the projector's
    /// principal (on the log `topic` or the dead-letter topic `dlq`), the projector is not
    /// ready and `/readyz` says why, until [`Health::allowed`]. Logged once per reason.
    pub fn connect_failed(&self, topic: &str, dlq: &str, error: &anyhow::Error) {
        let action = format!(
            "create, describe or read topic {topic}, join its consumer group, \
             or create or write the dead-letter topic {dlq}"
        );
        let kafka_errors = || (error.chain()).filter_map(|c| c.downcast_ref::<KafkaError>());
        let refusal = kafka_errors().find_map(|kafka| access_denied(&action, kafka));
        // A broker that refuses the principal answered: it is up, `/readyz` says the rest.
        if refusal.is_some() || kafka_errors().next().is_some() {
            self.set_kafka_up(refusal.is_some());
        }
        if let Some(reason) = refusal {
            let mut denied = self.denied();
            if denied.as_deref() != Some(reason.as_str()) {
                tracing::error!(%reason, "the broker refuses the projector; retrying until its ACLs allow it");
                *denied = Some(reason);
            }
        }
    }

    /// The projector connected: the broker serves its principal.
    pub fn allowed(&self) {
        self.set_kafka_up(true);
        if let Some(reason) = self.denied().take() {
            tracing::info!(was = %reason, "the broker serves the projector again");
        }
    }

    fn denied(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.denied.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last Postgres operation succeeded.
    pub fn set_database_up(&self, up: bool) {
        let was = self.database_up.swap(up, Ordering::SeqCst);
        if was != up && !up {
            tracing::warn!("postgres unavailable; the projection waits for it");
        }
    }

    /// Ready: a member joined the consumer group, Postgres answers, the log can be read,
    /// no partition is left unconsumed because the read model is ahead of the log, and
    /// none waits at a record the registry cannot resolve.
    pub fn is_ready(&self) -> bool {
        self.joined()
            && self.database_up.load(Ordering::SeqCst)
            && self.ahead().is_empty()
            && self.failure().is_none()
            && self.stalled().is_empty()
            && self.denied().is_none()
    }

    /// The counters, as `/readyz` shows them.
    pub fn snapshot(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let stalled: Vec<String> = self.stalled().values().cloned().collect();
        json!({
            "ready": self.is_ready(),
            "assigned_partitions": self.assigned().values().sum::<usize>(),
            "database_up": self.database_up.load(Ordering::SeqCst),
            "applied": get(&self.applied),
            "ignored": get(&self.ignored),
            "dead_lettered": get(&self.dead_lettered),
            "batches": get(&self.batches),
            "cache_written": get(&self.cache.written),
            "cache_failed": get(&self.cache.failed),
            "ahead_of_log": self.ahead(),
            "log_failure": self.failure(),
            "stalled": stalled,
            "access_denied": *self.denied(),
        })
    }
}

/// The health routes and `/metrics`, all open like any probe (no token: the projector
/// serves nothing else).
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .merge(orderflow_platform::metrics::routes())
        .layer(orderflow_platform::HttpMetricsLayer::new())
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, Json<Value>) {
    let mut body = health.snapshot();
    if health.is_ready() {
        return (StatusCode::OK, Json(body));
    }
    let reason = not_ready_because(&health).unwrap_or_else(|| "not ready yet".to_owned());
    body["reason"] = reason.into();
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

/// Why [`Health::is_ready`] says no, in words, most serious first; the fields of the
/// snapshot say the same in detail.
fn not_ready_because(health: &Health) -> Option<String> {
    if let Some(failure) = health.failure() {
        return Some(format!(
            "the log cannot be read: {failure}; restart once it is fixed"
        ));
    }
    if let Some(denied) = health.denied().clone() {
        return Some(format!("the broker refuses the projector: {denied}"));
    }
    if let Some((partition, why)) = health.stalled().iter().next() {
        return Some(format!("partition {partition} waits at a record: {why}"));
    }
    if !health.ahead().is_empty() {
        return Some("the read model is ahead of the log on some partitions (ahead_of_log)".into());
    }
    if !health.database_up.load(Ordering::SeqCst) {
        return Some("Postgres does not answer".into());
    }
    if !health.joined() {
        return Some("waiting for the consumer group to assign partitions".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProjectorError;
    use rdkafka::types::RDKafkaErrorCode;

    #[test]
    fn a_refused_principal_is_not_ready_and_says_why_until_it_connects() {
        let health = Health::default();
        let refused = anyhow::Error::from(ProjectorError::Kafka(KafkaError::AdminOp(
            RDKafkaErrorCode::TopicAuthorizationFailed,
        )))
        .context("connecting");
        health.connect_failed("orders.events", "orders.events.dlq", &refused);
        assert!(!health.is_ready());
        let denied = health.snapshot()["access_denied"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(denied.contains("topic orders.events"), "{denied}");
        assert!(denied.contains("TOPIC_AUTHORIZATION_FAILED"), "{denied}");

        health.allowed();
        assert!(health.snapshot()["access_denied"].is_null());
    }

    #[test]
    fn other_connect_failures_are_not_refusals() {
        let health = Health::default();
        let down = anyhow::Error::from(KafkaError::AdminOp(RDKafkaErrorCode::AllBrokersDown));
        health.connect_failed("t", "t.dlq", &down);
        assert!(health.snapshot()["access_denied"].is_null());
    }

    #[test]
    fn not_ready_says_why_in_words_until_ready() {
        let health = Health::default();
        let why = |h: &Health| not_ready_because(h).unwrap_or_default();
        assert_eq!(why(&health), "Postgres does not answer");
        health.set_database_up(true);
        assert!(why(&health).contains("consumer group"), "{}", why(&health));
        health.set_assignment(0, 3);
        assert!(health.is_ready());
        assert_eq!(not_ready_because(&health), None);
    }
}
