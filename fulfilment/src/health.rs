//! What `/readyz` reports, as last seen by the loops that use each dependency.

use orderflow_platform::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Shared by the sagas, the read-model writer and the health endpoint.
#[derive(Debug, Default)]
pub struct Health {
    sagas_live: AtomicBool,
    database_down: AtomicBool,
    broker_down: AtomicBool,
    registry_down: AtomicBool,
}

impl Health {
    /// The order log and both ledgers were read to their ends: the sagas run.
    pub fn set_sagas_live(&self) {
        self.sagas_live.store(true, Ordering::Relaxed);
    }

    pub fn sagas_live(&self) -> bool {
        self.sagas_live.load(Ordering::Relaxed)
    }

    /// Whether the read model's last write failed.
    pub fn set_database_up(&self, up: bool) {
        self.database_down.store(!up, Ordering::Relaxed);
    }

    pub fn database_up(&self) -> bool {
        !self.database_down.load(Ordering::Relaxed)
    }

    /// Whether the last record read decoded, or waits for the registry.
    pub fn set_registry_up(&self, up: bool) {
        self.registry_down.store(!up, Ordering::Relaxed);
    }

    pub fn registry_up(&self) -> bool {
        !self.registry_down.load(Ordering::Relaxed)
    }

    /// Whether the broker answered the last probe.
    pub fn broker_up(&self) -> bool {
        !self.broker_down.load(Ordering::Relaxed)
    }
}

/// Asks the broker for `topic`'s metadata every second until `stop`: the ledgers and the
/// sagas read on whatever happens, so only a probe tells `/readyz` the broker is away.
pub async fn watch_broker(
    kafka: KafkaSettings,
    topic: String,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    let Ok(probe) = kafka.client_config(&[]).create::<BaseConsumer>() else {
        return health.broker_down.store(true, Ordering::Relaxed);
    };
    let probe = Arc::new(probe);
    while !stop.is_cancelled() {
        let (probe, topic) = (probe.clone(), topic.clone());
        let up = tokio::task::spawn_blocking(move || {
            probe
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .is_ok()
        })
        .await
        .unwrap_or(false);
        health.broker_down.store(!up, Ordering::Relaxed);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
