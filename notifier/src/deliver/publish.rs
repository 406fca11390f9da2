//! What the workers put on the log: a `NotificationSent` (Avro, through the registry) on
//! `notifications.outbound` for every delivery made, and the notice with why it failed on
//! `notifications.dlq` for every delivery parked. Both keyed by the order id, and sent
//! before the outcome is recorded: a crash in between repeats a record (same ids), never
//! loses one.

use crate::deliver::claims::Claimed;
use crate::retry::Settlement;
use futures::future::try_join_all;
use orderflow_platform::KafkaSettings;
use orderflow_schemas::{CodecError, NotificationSent, OutboundCodec};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// Longest wait for the broker to confirm a record.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why publishing failed. Handling: retried with backoff; the outcome waits.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("encoding a NotificationSent: {0}")]
    Encode(#[source] CodecError),
    #[error("the broker did not take the record: {0}")]
    Kafka(#[source] KafkaError),
}

pub struct Publisher {
    producer: FutureProducer,
    codec: OutboundCodec,
    outbound_topic: String,
    dlq_topic: String,
}

impl Publisher {
    pub fn new(
        kafka: &KafkaSettings,
        codec: OutboundCodec,
        outbound_topic: &str,
        dlq_topic: &str,
    ) -> Result<Publisher, KafkaError> {
        let producer = kafka
            .client_config(&[
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("linger.ms", "5"),
            ])
            .create()?;
        Ok(Publisher {
            producer,
            codec,
            outbound_topic: outbound_topic.to_owned(),
            dlq_topic: dlq_topic.to_owned(),
        })
    }

    /// Publishes the records of the delivered and parked attempts in `settled`, all in
    /// flight at once.
    pub async fn publish(
        &self,
        settled: &[(&Claimed, &Settlement, Option<&str>)],
    ) -> Result<(), PublishError> {
        let mut records = Vec::new();
        for &(claimed, settlement, detail) in settled {
            records.extend(self.record_of(claimed, settlement, detail).await?);
        }
        let sends = records.iter().map(|record| async move {
            let future = FutureRecord::to(record.topic)
                .key(record.key)
                .payload(&record.value)
                .headers(record.headers.clone());
            self.producer
                .send(future, DELIVERY_TIMEOUT)
                .await
                .map(|_| ())
                .map_err(|(e, _)| PublishError::Kafka(e))
        });
        try_join_all(sends).await.map(|_| ())
    }

    /// The record an attempt that ended in `settlement` puts on the log, if any.
    async fn record_of<'a>(
        &'a self,
        claimed: &'a Claimed,
        settlement: &Settlement,
        detail: Option<&str>,
    ) -> Result<Option<Outgoing<'a>>, PublishError> {
        let record = match settlement {
            Settlement::Delivered => {
                let value = self
                    .codec
                    .encode(&sent(claimed))
                    .await
                    .map_err(PublishError::Encode)?;
                Outgoing {
                    topic: &self.outbound_topic,
                    key: &claimed.order_id,
                    value,
                    headers: OwnedHeaders::new(),
                }
            }
            Settlement::Park => Outgoing {
                topic: &self.dlq_topic,
                key: &claimed.order_id,
                value: claimed.body.clone().into_bytes(),
                headers: dead_letter_headers(claimed, detail.unwrap_or_default()),
            },
            Settlement::Retry(_) | Settlement::Drop => return Ok(None),
        };
        Ok(Some(record))
    }
}

/// One record for the log.
struct Outgoing<'a> {
    topic: &'a str,
    key: &'a str,
    value: Vec<u8>,
    headers: OwnedHeaders,
}

/// What `notifications.outbound` says of a delivery made now.
fn sent(claimed: &Claimed) -> NotificationSent {
    NotificationSent {
        notice_id: claimed.notice_id,
        order_id: claimed.order_id.clone(),
        customer_id: claimed.customer_id.clone(),
        status: claimed.status.clone(),
        version: claimed.version,
        occurred_at: claimed.occurred_at.timestamp_millis(),
        subscription_id: claimed.subscription_id,
        channel: claimed.channel().to_owned(),
        attempt: claimed.attempt,
        sent_at: chrono::Utc::now().timestamp_millis(),
    }
}

/// The headers of a dead letter: which delivery, after how many attempts, and why.
fn dead_letter_headers(claimed: &Claimed, error: &str) -> OwnedHeaders {
    let notice = claimed.notice_id.to_string();
    let subscription = claimed.subscription_id.to_string();
    let attempts = claimed.attempt.to_string();
    [
        ("notice_id", notice.as_str()),
        ("subscription_id", subscription.as_str()),
        ("channel", claimed.channel()),
        ("attempts", attempts.as_str()),
        ("error", error),
    ]
    .into_iter()
    .fold(OwnedHeaders::new(), |headers, (key, value)| {
        headers.insert(Header {
            key,
            value: Some(value),
        })
    })
}
