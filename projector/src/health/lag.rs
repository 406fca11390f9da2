//! Per-partition lag in the logs, every few seconds: the high watermark minus the next
//! offset to fold; and, as often, whether the log still exists.

use crate::live::consumer::GroupConsumer;
use crate::live::pipeline::Positions;
use orderflow_platform::log_gone;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often lag is logged.
pub const LAG_INTERVAL: Duration = Duration::from_secs(10);

/// Logs the lag of the owned partitions every [`LAG_INTERVAL`] until `stop` is cancelled
/// (at once, even in the middle of asking the broker).
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
    loop {
        tick.tick().await;
        if let Some(gone) = log_gone_from_metadata(&consumer, &topic).await {
            // A member with no partitions never fetches, so never hears of a deleted
            // topic from a fetch: after a rebalance on a deleted log, this is how it does.
            consumer.context().health().fail(gone);
            return;
        }
        let snapshot = positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next
            .clone();
        if snapshot.is_empty() {
            continue;
        }
        let probe = consumer.clone();
        let t = topic.clone();
        let lags = tokio::task::spawn_blocking(move || {
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
        .unwrap_or_default();
        let total: i64 = lags.values().map(|l| l.max(&0)).sum();
        tracing::info!(lag = ?lags, total, "projection lag (high watermark - next offset)");
    }
}

/// Why the log is gone, when the broker's metadata says the topic no longer exists.
async fn log_gone_from_metadata(consumer: &Arc<GroupConsumer>, topic: &str) -> Option<String> {
    let (probe, t) = (consumer.clone(), topic.to_owned());
    let code = tokio::task::spawn_blocking(move || {
        let metadata = probe
            .fetch_metadata(Some(&t), Duration::from_secs(2))
            .ok()?;
        metadata.topics().first()?.error()
    })
    .await
    .ok()??;
    log_gone(topic, &KafkaError::Global(code.into()))
}
