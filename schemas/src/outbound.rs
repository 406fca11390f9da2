//! `notifications.outbound`: what the notifier delivered, one `NotificationSent` record per
//! delivery, Avro in the Confluent wire format like the order events. Its schema history is
//! `schemas/notifications/NotificationSent/vN.avsc` (checked by `schemas check --dir
//! schemas/notifications --topic notifications.outbound`).

use crate::codec::{RegistrySettings, registry_error};
use crate::error::CodecError;
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use schema_registry_converter::async_impl::avro::AvroEncoder;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use std::sync::{LazyLock, OnceLock};
use uuid::Uuid;

/// The topic the notifier publishes to.
pub const OUTBOUND_TOPIC: &str = "notifications.outbound";

/// The schema the code writes.
pub const NOTIFICATION_SENT_SCHEMA: &str =
    include_str!("../notifications/NotificationSent/v1.avsc");

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse_str(NOTIFICATION_SENT_SCHEMA).expect("NotificationSent/v1.avsc is valid (tested)")
});

/// One delivered notice.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationSent {
    pub notice_id: Uuid,
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub version: i64,
    /// Milliseconds since the epoch.
    pub occurred_at: i64,
    pub subscription_id: Uuid,
    pub channel: String,
    pub attempt: i32,
    /// Milliseconds since the epoch.
    pub sent_at: i64,
}

impl NotificationSent {
    fn to_value(&self) -> Value {
        Value::Record(vec![
            ("notice_id".into(), Value::Uuid(self.notice_id)),
            ("order_id".into(), Value::String(self.order_id.clone())),
            (
                "customer_id".into(),
                Value::String(self.customer_id.clone()),
            ),
            ("status".into(), Value::String(self.status.clone())),
            ("version".into(), Value::Long(self.version)),
            (
                "occurred_at".into(),
                Value::TimestampMillis(self.occurred_at),
            ),
            ("subscription_id".into(), Value::Uuid(self.subscription_id)),
            ("channel".into(), Value::String(self.channel.clone())),
            ("attempt".into(), Value::Int(self.attempt)),
            ("sent_at".into(), Value::TimestampMillis(self.sent_at)),
        ])
    }

    /// The Avro datum (without the frame).
    pub fn to_datum(&self) -> Result<Vec<u8>, CodecError> {
        GenericDatumWriter::builder(&SCHEMA)
            .build()
            .and_then(|writer| writer.write_value_to_vec(self.to_value()))
            .map_err(|e| CodecError::Malformed(e.to_string()))
    }

    /// Reads the datum of a record back (tests and consumers written in Rust).
    pub fn from_datum(datum: &[u8]) -> Result<NotificationSent, CodecError> {
        let value = GenericDatumReader::builder(&SCHEMA)
            .build()
            .and_then(|reader| reader.read_value(&mut &datum[..]))
            .map_err(|e| CodecError::Malformed(e.to_string()))?;
        let Value::Record(fields) = value else {
            return Err(CodecError::Malformed("not a record".into()));
        };
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let text = |name: &str| match field(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(CodecError::Malformed(format!("{name} is not a string"))),
        };
        let uuid = |name: &str| match field(name) {
            Some(Value::Uuid(u)) => Ok(*u),
            _ => Err(CodecError::Malformed(format!("{name} is not a uuid"))),
        };
        let millis = |name: &str| match field(name) {
            Some(Value::TimestampMillis(m)) => Ok(*m),
            _ => Err(CodecError::Malformed(format!("{name} is not a timestamp"))),
        };
        let long = |name: &str| match field(name) {
            Some(Value::Long(n)) => Ok(*n),
            _ => Err(CodecError::Malformed(format!("{name} is not a long"))),
        };
        Ok(NotificationSent {
            notice_id: uuid("notice_id")?,
            order_id: text("order_id")?,
            customer_id: text("customer_id")?,
            status: text("status")?,
            version: long("version")?,
            occurred_at: millis("occurred_at")?,
            subscription_id: uuid("subscription_id")?,
            channel: text("channel")?,
            attempt: match field("attempt") {
                Some(Value::Int(n)) => *n,
                _ => return Err(CodecError::Malformed("attempt is not an int".into())),
            },
            sent_at: millis("sent_at")?,
        })
    }
}

/// Writes `NotificationSent` records through the registry, under the subject
/// `notifications.outbound-com.orderflow.notifications.NotificationSent`
/// (TopicRecordNameStrategy, as the order events).
pub struct OutboundCodec {
    encoder: AvroEncoder,
    strategy: SubjectNameStrategy,
    id: OnceLock<u32>,
}

impl OutboundCodec {
    pub fn new(registry: &RegistrySettings, topic: &str) -> Result<OutboundCodec, CodecError> {
        let supplied = SuppliedSchema::new(
            Some("com.orderflow.notifications.NotificationSent".into()),
            SchemaType::Avro,
            NOTIFICATION_SENT_SCHEMA.to_owned(),
        );
        Ok(OutboundCodec {
            encoder: AvroEncoder::new(registry.client_settings()?),
            strategy: SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
                topic.to_owned(),
                supplied,
            ),
            id: OnceLock::new(),
        })
    }

    /// The schema's id: registered (or found registered) on first use.
    pub async fn register(&self) -> Result<u32, CodecError> {
        if let Some(id) = self.id.get() {
            return Ok(*id);
        }
        let subject = self.strategy.get_subject().map_err(registry_error)?;
        let registered = self
            .encoder
            .get_schema_and_id(&subject, self.strategy.clone())
            .await
            .map_err(registry_error)?;
        Ok(*self.id.get_or_init(|| registered.id))
    }

    /// The Confluent-framed bytes of `sent`.
    pub async fn encode(&self, sent: &NotificationSent) -> Result<Vec<u8>, CodecError> {
        let id = self.register().await?;
        let datum = sent.to_datum()?;
        let mut bytes = Vec::with_capacity(datum.len() + 5);
        bytes.push(0);
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&datum);
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::load_histories;

    #[test]
    fn a_record_reads_back_as_written() {
        let sent = NotificationSent {
            notice_id: Uuid::from_u128(1),
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            status: "shipped".into(),
            version: 3,
            occurred_at: 1_767_225_600_123,
            subscription_id: Uuid::from_u128(2),
            channel: "webhook".into(),
            attempt: 3,
            sent_at: 1_767_225_601_000,
        };
        let datum = sent.to_datum().unwrap();
        assert_eq!(NotificationSent::from_datum(&datum).unwrap(), sent);
    }

    #[test]
    fn the_schema_history_passes_its_offline_check() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/notifications");
        let histories = load_histories(std::path::Path::new(dir)).unwrap();
        assert_eq!(histories.len(), 1);
        let history = &histories[0];
        assert_eq!(
            history.record_name().as_deref(),
            Some("com.orderflow.notifications.NotificationSent")
        );
        assert!(history.check(crate::DEFAULT_LEVEL).is_empty());
    }
}
