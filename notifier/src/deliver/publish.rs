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
        for (claimed, settlement, detail) in settled {
            match settlement {
                Settlement::Delivered => {
                    let sent = NotificationSent {
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
                    };
                    let value = self
                        .codec
                        .encode(&sent)
                        .await
                        .map_err(PublishError::Encode)?;
                    records.push((
                        &self.outbound_topic,
                        &claimed.order_id,
                        value,
                        OwnedHeaders::new(),
                    ));
                }
                Settlement::Park => {
                    let headers = OwnedHeaders::new()
                        .insert(Header {
                            key: "notice_id",
                            value: Some(&claimed.notice_id.to_string()),
                        })
                        .insert(Header {
                            key: "subscription_id",
                            value: Some(&claimed.subscription_id.to_string()),
                        })
                        .insert(Header {
                            key: "channel",
                            value: Some(claimed.channel()),
                        })
                        .insert(Header {
                            key: "attempts",
                            value: Some(&claimed.attempt.to_string()),
                        })
                        .insert(Header {
                            key: "error",
                            value: Some(detail.unwrap_or_default()),
                        });
                    records.push((
                        &self.dlq_topic,
                        &claimed.order_id,
                        claimed.body.clone().into_bytes(),
                        headers,
                    ));
                }
                Settlement::Retry(_) | Settlement::Drop => {}
            }
        }
        let sends = records
            .into_iter()
            .map(|(topic, key, value, headers)| async move {
                let record = FutureRecord::to(topic)
                    .key(key)
                    .payload(&value)
                    .headers(headers);
                self.producer
                    .send(record, DELIVERY_TIMEOUT)
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| PublishError::Kafka(e))
            });
        try_join_all(sends).await.map(|_| ())
    }
}
