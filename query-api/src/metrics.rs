//! What the query API records for its operators (the names are the contract of
//! docs/operations.md): how the order cache answered, how read-your-writes waits ended,
//! the open and ended live streams, the Postgres pool's use, and whether Postgres and
//! Redis answer.
//!
//! Recording goes through the `metrics` facade and is a no-op until a recorder is
//! installed. The series of the request path are registered once, the first time the
//! platform's recorder is there, so a read costs atomic increments, not a key and a lookup.

use crate::cache::Cache;
use crate::store::Store;
use metrics::{Counter, Histogram};
use std::sync::OnceLock;
use std::time::Duration;

/// How often the pool is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often Postgres and Redis are pinged between readiness probes.
const PING_EVERY: u32 = 5;

/// How the cache answered one lookup of `GET /orders/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheResult {
    /// The document, at the version asked for, came from Redis.
    Hit = 0,
    /// Redis holds no document (or an older version than asked for): read from Postgres.
    Miss = 1,
    /// Redis is not connected, failed, timed out or held an unreadable document.
    Error = 2,
}

pub(crate) fn cache_lookup(result: CacheResult) {
    static LOOKUPS: OnceLock<[Counter; 3]> = OnceLock::new();
    let make = || {
        ["hit", "miss", "error"].map(
            |result| metrics::counter!("orderflow_query_cache_requests_total", "result" => result),
        )
    };
    if let Some(lookups) = registered(&LOOKUPS, make) {
        lookups[result as usize].increment(1);
    }
}

/// A read-your-writes wait ended after `waited`: the version was `reached`, or not in time.
pub(crate) fn wait_ended(reached: bool, waited: Duration) {
    static WAITS: OnceLock<([Counter; 2], Histogram)> = OnceLock::new();
    let make = || {
        let ends = ["reached", "timeout"]
            .map(|result| metrics::counter!("orderflow_query_waits_total", "result" => result));
        (
            ends,
            metrics::histogram!("orderflow_query_wait_duration_seconds"),
        )
    };
    if let Some((ends, duration)) = registered(&WAITS, make) {
        ends[usize::from(!reached)].increment(1);
        duration.record(waited.as_secs_f64());
    }
}

/// The number of open streams changed by `delta`.
pub(crate) fn streams_open(delta: f64) {
    metrics::gauge!("orderflow_query_streams_open").increment(delta);
}

/// The server ended a stream (`reason`: its `end` event's).
pub(crate) fn stream_ended(reason: &'static str) {
    metrics::counter!("orderflow_query_streams_ended_total", "reason" => reason).increment(1);
}

/// The series in `cell`, made by `make` the first time the platform's recorder is
/// installed; `None` while there is none (recording would be a no-op).
fn registered<T>(cell: &'static OnceLock<T>, make: fn() -> T) -> Option<&'static T> {
    orderflow_platform::metrics::handle()?;
    Some(cell.get_or_init(make))
}

/// Whether `dependency` (`postgres`, `redis`) answered its last ping.
pub(crate) fn dependency_up(dependency: &'static str, up: bool) {
    metrics::gauge!("orderflow_dependency_up", "dependency" => dependency).set(if up {
        1.0
    } else {
        0.0
    });
}

/// The pool's connections, idle and in use, and its ceiling.
fn pool(store: &Store) {
    let pool = store.pool();
    let (size, idle) = (pool.size(), pool.num_idle() as u32);
    let in_use = size.saturating_sub(idle);
    metrics::gauge!("orderflow_query_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("orderflow_query_db_pool_connections", "state" => "in_use").set(in_use);
    metrics::gauge!("orderflow_query_db_pool_max_connections")
        .set(pool.options().get_max_connections());
}

/// The `# HELP` lines of this service's series; once the recorder is installed.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "orderflow_query_cache_requests_total",
        "Order cache lookups of GET /orders/{id}: hit, miss (read from Postgres) or error."
    );
    describe_counter!(
        "orderflow_query_waits_total",
        "Read-your-writes waits (min_version) that reached the version or timed out."
    );
    describe_histogram!(
        "orderflow_query_wait_duration_seconds",
        Unit::Seconds,
        "How long read-your-writes waits took."
    );
    describe_gauge!(
        "orderflow_query_streams_open",
        "Live streams (Server-Sent Events) open now."
    );
    describe_counter!(
        "orderflow_query_streams_ended_total",
        "Streams the server ended, by the reason of their end event."
    );
    describe_gauge!(
        "orderflow_query_db_pool_connections",
        "Pooled Postgres connections, idle or in use."
    );
    describe_gauge!(
        "orderflow_query_db_pool_max_connections",
        "Most Postgres connections the pool may open."
    );
    describe_gauge!(
        "orderflow_dependency_up",
        "1 when the dependency answered the service's last ping, else 0."
    );
}

/// Samples the pool every second and pings Postgres and Redis every few seconds, so the
/// gauges hold even when nobody probes `/readyz`. Runs until aborted.
pub(crate) async fn sample(store: Store, cache: Cache) {
    describe();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    for round in 0u32.. {
        tick.tick().await;
        pool(&store);
        if round % PING_EVERY == 0 {
            let (database, redis) = tokio::join!(store.ping(), cache.ping());
            dependency_up("postgres", database.is_ok());
            dependency_up("redis", redis);
        }
    }
}
