//! Per-partition lag, every few seconds: the high watermark minus the next offset to fold,
//! and how long ago the newest record folded was appended; logged and, for the live
//! projector, set as gauges (`metrics`). As often, whether the log still exists, which
//! also tells whether the broker answers.

use crate::health::metrics::{self, Meter};
use crate::live::consumer::GroupConsumer;
use crate::live::pipeline::Positions;
use orderflow_platform::log_gone;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// How often lag is logged.
pub const LAG_INTERVAL: Duration = Duration::from_secs(10);

/// Reports the lag of the owned partitions every [`LAG_INTERVAL`] until `stop` is
/// cancelled (at once, even in the middle of asking the broker).
pub async fn report(
    consumer: Arc<GroupConsumer>,
    topic: String,
    positions: Arc<Mutex<Positions>>,
    stop: CancellationToken,
) {
    stop.run_until_cancelled(report_every_interval(consumer, topic, positions))
        .await;
}

async fn report_every_interval(
    consumer: Arc<GroupConsumer>,
    topic: String,
    positions: Arc<Mutex<Positions>>,
) {
    let mut tick = tokio::time::interval(LAG_INTERVAL);
    tick.tick().await;
    let mut gauges = Gauges::default();
    loop {
        tick.tick().await;
        if let Some(gone) = log_gone_from_metadata(&consumer, &topic).await {
            // A member with no partitions never fetches, so never hears of a deleted
            // topic from a fetch: after a rebalance on a deleted log, this is how it does.
            consumer.context().health().fail(gone);
            return;
        }
        let (snapshot, newest) = {
            let positions = positions.lock().unwrap_or_else(|e| e.into_inner());
            (positions.next.clone(), positions.newest.clone())
        };
        let owned: BTreeSet<i32> = snapshot.keys().copied().collect();
        let lags = if snapshot.is_empty() {
            BTreeMap::new()
        } else {
            watermark_lags(&consumer, &topic, snapshot).await
        };
        if consumer.context().health().meter() == Meter::Live {
            gauges.set(owned, &lags, &newest);
        }
        if lags.is_empty() {
            continue;
        }
        let total: i64 = lags.values().map(|l| l.max(&0)).sum();
        tracing::info!(lag = ?lags, total, "projection lag (high watermark - next offset)");
    }
}

/// The lag of each partition of `snapshot` (next offset to fold, by partition) whose high
/// watermark the broker told.
async fn watermark_lags(
    consumer: &Arc<GroupConsumer>,
    topic: &str,
    snapshot: HashMap<i32, i64>,
) -> BTreeMap<i32, i64> {
    let probe = consumer.clone();
    let t = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        snapshot
            .into_iter()
            .filter_map(|(partition, next)| {
                let (_, high) = probe
                    .fetch_watermarks(&t, partition, Duration::from_secs(2))
                    .ok()?;
                Some((partition, high - next))
            })
            .collect::<BTreeMap<i32, i64>>()
    })
    .await
    .unwrap_or_default()
}

/// The per-partition gauges this reporter set, so a partition it no longer owns is reset.
#[derive(Debug, Default)]
struct Gauges {
    reported: BTreeSet<i32>,
}

impl Gauges {
    /// Sets the lag of each `owned` partition the broker told (`lags`) and the age of its
    /// newest folded record (`newest`: ms since the epoch), and resets the partitions
    /// reported before but not owned now.
    fn set(&mut self, owned: BTreeSet<i32>, lags: &BTreeMap<i32, i64>, newest: &HashMap<i32, i64>) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for &partition in &owned {
            let since = newest
                .get(&partition)
                .map(|&created| (now_ms - created) as f64 / 1000.0);
            metrics::partition_lag(partition, lags.get(&partition).copied(), since);
        }
        for &released in self.reported.difference(&owned) {
            metrics::partition_released(released);
        }
        self.reported = owned;
    }
}

/// Why the log is gone, when the broker's metadata says the topic no longer exists. Also
/// tells the health whether the broker answered.
async fn log_gone_from_metadata(consumer: &Arc<GroupConsumer>, topic: &str) -> Option<String> {
    let (probe, t) = (consumer.clone(), topic.to_owned());
    let answer = tokio::task::spawn_blocking(move || {
        let metadata = probe.fetch_metadata(Some(&t), Duration::from_secs(2))?;
        Ok::<Option<RDKafkaErrorCode>, KafkaError>(
            metadata
                .topics()
                .first()
                .and_then(|t| t.error())
                .map(Into::into),
        )
    })
    .await
    .ok()?;
    consumer.context().health().set_kafka_up(answer.is_ok());
    let code = answer.ok()??;
    log_gone(topic, &KafkaError::Global(code))
}
