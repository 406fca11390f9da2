//! Who owns which partition (ADR 0015): the consumer group's own description, as the
//! coordinator gives it (`DescribeGroups`, rdkafka's `fetch_group_list`). Each command
//! service instance sets its `client.id` to the base URL other instances reach it at, so
//! a member's id and its assignment say where a partition's orders are served.

use super::assignment::partitions_of;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Partition → the owning instance's base URL.
pub type Owners = BTreeMap<i32, String>;

/// The owners of `topic`'s partitions in `group`, as its coordinator describes the group
/// now. Blocking (a request to the broker): run it off the async workers. A member whose
/// assignment does not read is left out (and logged): its partitions look unowned, which
/// makes a request for them wait and retry rather than go to a guess.
pub fn describe<C: Consumer>(
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
