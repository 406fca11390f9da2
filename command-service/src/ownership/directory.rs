//! Who owns which partition (ADR 0015): the consumer group's own description, as the
//! coordinator gives it (`DescribeGroups`, rdkafka's `fetch_group_list`). Each command
//! service instance sets its `client.id` to the base URL other instances reach it at, so
//! a member's id and its assignment say where a partition's orders are served.

use super::assignment::partitions_of;
use crate::log::Reader;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Partition → the owning instance's base URL.
pub type Owners = BTreeMap<i32, String>;

/// The owners of `topic`'s partitions in `group`, as its coordinator describes the group
/// now. Blocking (a request to the broker): run it off the async workers. A member whose
/// assignment does not read is left out (and logged): its partitions look unowned, which
/// makes a request for them wait and retry rather than go to a guess.
pub fn describe<X: ConsumerContext + 'static, C: Consumer<X>>(
    consumer: &C,
    group: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Owners, KafkaError> {
    let groups = consumer.fetch_group_list(Some(group), timeout)?;
    let mut owners = Owners::new();
    for member in groups.groups().iter().flat_map(|g| g.members()) {
        let bytes = member.assignment().unwrap_or_default();
        match partitions_of(bytes, topic) {
            Ok(partitions) => {
                for partition in partitions {
                    owners.insert(partition, member.client_id().to_owned());
                }
            }
            Err(e) => tracing::warn!(member = member.id(), error = %e, "skipping a group member"),
        }
    }
    Ok(owners)
}

/// How old a cached directory may be before a lookup asks the coordinator again.
const FRESH_FOR: std::time::Duration = Duration::from_secs(1);

/// The owners, cached: asked of the coordinator at most once per [`FRESH_FOR`], and again
/// when a lookup finds no owner or this instance (its partitions moved since).
pub struct Directory {
    consumer: std::sync::Arc<Reader>,
    group: String,
    topic: String,
    own_url: String,
    cached: tokio::sync::Mutex<(Owners, Option<std::time::Instant>)>,
}

impl Directory {
    pub fn new(consumer: std::sync::Arc<Reader>, group: &str, topic: &str, own_url: &str) -> Self {
        Directory {
            consumer,
            group: group.to_owned(),
            topic: topic.to_owned(),
            own_url: own_url.to_owned(),
            cached: tokio::sync::Mutex::new((Owners::new(), None)),
        }
    }

    /// Drops what is cached: the next lookup asks the coordinator (a forward failed).
    pub async fn forget(&self) {
        self.cached.lock().await.1 = None;
    }

    /// The URL of the instance that owns `partition`, if another one does.
    pub async fn owner(&self, partition: i32) -> Option<String> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.1.is_some_and(|at| at.elapsed() < FRESH_FOR);
        let usable = |owners: &Owners| {
            owners
                .get(&partition)
                .filter(|url| **url != self.own_url)
                .cloned()
        };
        if fresh && let Some(url) = usable(&cached.0) {
            return Some(url);
        }
        if !fresh {
            let (consumer, group, topic) = (
                self.consumer.clone(),
                self.group.clone(),
                self.topic.clone(),
            );
            let described = tokio::task::spawn_blocking(move || {
                describe(consumer.as_ref(), &group, &topic, Duration::from_secs(2))
            })
            .await;
            // A failed description is not asked again at once by every waiting request.
            cached.1 = Some(std::time::Instant::now());
            match described {
                Ok(Ok(owners)) => cached.0 = owners,
                Ok(Err(e)) => tracing::warn!(error = %e, "describing the group failed"),
                Err(e) => tracing::warn!(error = %e, "describing the group failed"),
            }
        }
        usable(&cached.0)
    }
}
