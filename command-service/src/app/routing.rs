//! Where a command goes when instances share the log (ADR 0015): this instance's address
//! and its client for forwarding, the partition of an order, the instance that serves a
//! partition, and new order ids this instance serves itself.

use super::AppState;
use crate::ownership::partitions::Held;
use orderflow_platform::partition_for_key;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The client commands for other instances' orders are forwarded with. The owner answers
/// within its command timeout; a dead one is given up on at once, and redirects are not
/// followed.
pub(super) fn forwarding_client(command_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(command_timeout + Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl AppState {
    /// Other instances reach this one at `url`.
    pub(crate) fn with_advertised_url(mut self, url: &str) -> Self {
        self.advertised_url = Arc::from(url);
        self
    }

    pub(crate) fn advertised_url(&self) -> &str {
        &self.advertised_url
    }

    pub(crate) fn forwarder(&self) -> &reqwest::Client {
        &self.forwarder
    }

    /// The partition of `order_id`, once the log side is up.
    pub(crate) fn partition_of(&self, order_id: &str) -> Option<i32> {
        let guard = self.workers.read().unwrap_or_else(|p| p.into_inner());
        let partitions = guard.as_ref()?.len() as i32;
        Some(partition_for_key(order_id.as_bytes(), partitions))
    }

    /// The URL of the other instance that serves `partition`, if one does.
    pub(crate) async fn owner_of(&self, partition: i32) -> Option<String> {
        let directory = self
            .directory
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        directory.owner(partition).await
    }

    /// Forgets the cached owners (a forward to one failed).
    pub(crate) async fn forget_owners(&self) {
        let directory = self
            .directory
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(directory) = directory {
            directory.forget().await;
        }
    }

    /// A new order id in a partition this instance serves, so a new order needs no
    /// forwarding; a random one when it serves none yet.
    pub(crate) fn new_order_id(&self) -> String {
        for _ in 0..256 {
            let id = Uuid::new_v4().to_string();
            if self
                .partition_of(&id)
                .is_some_and(|p| self.readiness.held(p) == Held::Serving)
            {
                return id;
            }
        }
        Uuid::new_v4().to_string()
    }
}
