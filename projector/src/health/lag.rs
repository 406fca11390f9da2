//! Per-partition lag in the logs, every few seconds: the high watermark minus the next
//! offset to fold.

use crate::live::consumer::GroupConsumer;
use crate::live::pipeline::Positions;
use rdkafka::consumer::Consumer;
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
