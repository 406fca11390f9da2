//! Reading a whole log from its start and on: the ledgers and the sagas each read every
//! partition of their topic, outside any consumer group (one fulfilment instance, ADR
//! 0016), and know they have caught up when every partition reported its end once.

use crate::health::Health;
use orderflow_platform::{Backoff, KafkaSettings, QuietEof};
use orderflow_schemas::CodecError;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A consumer of `topic` that reports the end of each partition and never moves past a
/// record it has not read (`auto.offset.reset=error`).
pub fn reader(kafka: &KafkaSettings) -> Result<StreamConsumer<QuietEof>, KafkaError> {
    kafka
        .client_config(&[
            // librdkafka wants a group id even for assigned partitions; nothing is
            // committed and no group is joined.
            ("group.id", "orderflow-fulfilment"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "error"),
        ])
        .create_with_context(QuietEof)
}

/// Assigns every partition of `topic` from its start; the partitions, to watch for their
/// ends.
pub fn read_from_start(
    consumer: &StreamConsumer<QuietEof>,
    topic: &str,
) -> Result<HashSet<i32>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
    let partitions: HashSet<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        return Err(KafkaError::MetadataFetch(
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    Ok(partitions)
}

/// Decodes one record with `decode`, retrying with backoff whatever is not the record's
/// fault (the registry away, a schema it does not know yet). Only poison comes back as an
/// error, to be counted and left out: skipping a record the registry could not answer for
/// would fold its aggregate without one of its events, for good. `None` when stopped.
/// While it waits, `health` says the registry is down (`/readyz`).
pub async fn decode_patiently<T, F, Fut>(
    log: &'static str,
    mut decode: F,
    health: &Health,
    stop: &CancellationToken,
) -> Option<Result<T, CodecError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CodecError>>,
{
    let mut backoff = Backoff::standard();
    loop {
        match decode().await {
            Err(e) if !e.is_poison() => {
                health.set_registry_up(false);
                tracing::warn!(log, error = %e, "a record waits for the registry; retrying")
            }
            decoded => {
                health.set_registry_up(true);
                return Some(decoded);
            }
        }
        if !backoff.wait_unless(stop).await {
            return None;
        }
    }
}
