//! The dead-letter topic: poison records (undecodable, keyed under another order, or a
//! change the lifecycle forbids; see `poison`) are copied there with their original key
//! and value and headers saying why and where they came from, so the projection can go on
//! without losing them. A record whose schema the registry does not know is never one.
//! A rebuild's poison goes nowhere ([`PoisonRoute::Skip`]): the live projector has
//! dead-lettered it already.

use crate::error::ProjectorError;
use crate::fold::model::Position;
use crate::live::ports::DeadLetterSink;
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// Longest wait for the broker to confirm a dead-lettered record.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One record to dead-letter.
#[derive(Debug, Clone)]
pub struct Poison {
    pub position: Position,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Why it is poison, for the `error` header.
    pub error: String,
    /// The kind of fault, for the metrics.
    pub kind: PoisonKind,
}

/// Why a record is poison, as a bounded label value
/// (`orderflow_projector_events_total{outcome="dead_lettered", reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoisonKind {
    /// Its bytes are not an event of a schema the code reads.
    Malformed,
    /// It decoded, but its content breaks the domain's rules.
    Invalid,
    /// Its key is not the order id of the event it holds.
    KeyMismatch,
    /// The order's lifecycle does not allow the change.
    TransitionNotAllowed,
}

impl PoisonKind {
    /// Every kind, in the order of [`PoisonKind::index`].
    pub const ALL: [PoisonKind; 4] = [
        PoisonKind::Malformed,
        PoisonKind::Invalid,
        PoisonKind::KeyMismatch,
        PoisonKind::TransitionNotAllowed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PoisonKind::Malformed => "malformed",
            PoisonKind::Invalid => "invalid",
            PoisonKind::KeyMismatch => "key_mismatch",
            PoisonKind::TransitionNotAllowed => "transition_not_allowed",
        }
    }

    /// Its place in [`PoisonKind::ALL`], for counting without a map.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a pipeline's poison records go, as its role chooses.
pub enum PoisonRoute {
    /// The live projector: the dead-letter topic.
    DeadLetters(DeadLetters),
    /// A rebuild: counted and logged only, since the live projector dead-lettered them
    /// already.
    Skip,
}

impl DeadLetterSink for PoisonRoute {
    async fn send_all(&self, poison: &[Poison]) -> Result<(), ProjectorError> {
        match self {
            PoisonRoute::DeadLetters(dead_letters) => dead_letters.send_all(poison).await,
            PoisonRoute::Skip => {
                log_skipped(poison);
                Ok(())
            }
        }
    }
}

fn log_skipped(poison: &[Poison]) {
    for p in poison {
        tracing::debug!(partition = p.position.partition, offset = p.position.offset, error = %p.error, "skipped a poison record");
    }
    tracing::info!(
        count = poison.len(),
        "skipped poison records (dead-lettered by the live projector)"
    );
}

/// The producer of the dead-letter topic.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    source_topic: String,
}

impl DeadLetters {
    /// Creates the dead-letter topic when it is missing (one partition, kept for good like
    /// the log), and its producer.
    pub async fn start(
        kafka: &KafkaSettings,
        topic: &LogSettings,
        source_topic: &str,
    ) -> Result<DeadLetters, ProjectorError> {
        ensure_topic(kafka, topic).await?;
        let timeout_ms = DELIVERY_TIMEOUT.as_millis().to_string();
        let producer = kafka
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("linger.ms", "1"),
                ("message.timeout.ms", &timeout_ms),
            ])
            .create()?;
        Ok(DeadLetters {
            producer,
            topic: topic.topic.clone(),
            source_topic: source_topic.to_owned(),
        })
    }

    /// Produces every record of `poison` and waits until the broker has them all, so the
    /// batch's offsets are only committed past records that are safe in the DLQ.
    pub async fn send_all(&self, poison: &[Poison]) -> Result<(), ProjectorError> {
        let sends = poison.iter().map(|p| self.send(p));
        futures::future::try_join_all(sends).await?;
        for p in poison {
            tracing::warn!(partition = p.position.partition, offset = p.position.offset, error = %p.error, dlq = %self.topic, "dead-lettered a poison record");
        }
        Ok(())
    }

    async fn send(&self, poison: &Poison) -> Result<(), ProjectorError> {
        let partition = poison.position.partition.to_string();
        let offset = poison.position.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "error",
                value: Some(poison.error.as_str()),
            })
            .insert(Header {
                key: "source.topic",
                value: Some(self.source_topic.as_str()),
            })
            .insert(Header {
                key: "source.partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "source.offset",
                value: Some(offset.as_str()),
            });
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(key) = &poison.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &poison.value {
            record = record.payload(value.as_slice());
        }
        self.producer
            .send(record, DELIVERY_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| ProjectorError::Kafka(e))
    }
}
