//! The fulfilment logs: `inventory.events` (one [`StockEvent`] per change of a product's
//! stock, record `StockChanged`) and `payments.events` (one [`PaymentEvent`] per answer
//! of the card processor, record `PaymentRecorded`). Avro in the Confluent wire format,
//! through the registry, like the order events; their schema histories are
//! `schemas/inventory/` and `schemas/payments/` (checked by `schemas check --dir …`).
//!
//! [`LedgerCodec`] reads any registered version of a record's schema by resolving it into
//! the one this code writes.

mod payment;
mod stock;
#[cfg(test)]
mod tests;

use crate::codec::{RegistrySettings, registry_error};
use crate::datum::{parse_frame, widen_decimals};
use crate::error::{CodecError, WireError};
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock, RwLock};

pub use orderflow_domain::inventory::StockEvent;
pub use orderflow_domain::payment::PaymentEvent;

/// The topic of the stock events.
pub const INVENTORY_TOPIC: &str = "inventory.events";
/// The topic of the payment events.
pub const PAYMENTS_TOPIC: &str = "payments.events";

/// A fulfilment event as one Avro record.
pub trait LedgerRecord: Sized + Send + Sync + 'static {
    /// The record's full name, e.g. `com.orderflow.inventory.StockChanged`.
    const FULL_NAME: &'static str;
    /// The schema the code writes, as in its `.avsc` file.
    fn schema_source() -> &'static str;
    /// The parsed [`LedgerRecord::schema_source`].
    fn schema() -> &'static Schema;
    /// The Kafka record key: the aggregate's id.
    fn key(&self) -> &str;
    fn to_value(&self) -> Value;
    /// Reads a record already resolved into [`LedgerRecord::schema`].
    fn from_value(value: Value) -> Result<Self, WireError>;
}

/// Writes and reads one fulfilment record type through the registry, under the subject
/// `<topic>-<full name>` (TopicRecordNameStrategy).
pub struct LedgerCodec<R> {
    encoder: AvroEncoder,
    decoder: AvroDecoder,
    strategy: SubjectNameStrategy,
    id: OnceLock<u32>,
    /// Readers per writer schema id, built on the first record of each.
    readers: RwLock<HashMap<u32, Arc<Schema>>>,
    record: PhantomData<R>,
}

impl<R: LedgerRecord> LedgerCodec<R> {
    pub fn new(registry: &RegistrySettings, topic: &str) -> Result<Self, CodecError> {
        let settings = registry.client_settings()?;
        let supplied = SuppliedSchema::new(
            Some(R::FULL_NAME.to_owned()),
            SchemaType::Avro,
            R::schema_source().to_owned(),
        );
        Ok(LedgerCodec {
            encoder: AvroEncoder::new(settings.clone()),
            decoder: AvroDecoder::new(settings),
            strategy: SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
                topic.to_owned(),
                supplied,
            ),
            id: OnceLock::new(),
            readers: RwLock::new(HashMap::new()),
            record: PhantomData,
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

    /// The Confluent-framed bytes of `record`.
    pub async fn encode(&self, record: &R) -> Result<Vec<u8>, CodecError> {
        let id = self.register().await?;
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        write_datum(record, &mut bytes)?;
        Ok(bytes)
    }

    /// The record in Confluent-framed `bytes`, written with any registered version.
    pub async fn decode(&self, bytes: &[u8]) -> Result<R, CodecError> {
        let (id, datum) = parse_frame(bytes)?;
        let writer = self.writer_schema(id).await?;
        read_datum(&writer, datum)
    }

    async fn writer_schema(&self, id: u32) -> Result<Arc<Schema>, CodecError> {
        if let Some(schema) = self.readers.read().expect("poisoned").get(&id) {
            return Ok(schema.clone());
        }
        let fetched = self.decoder.get_schema(id).await.map_err(|e| {
            self.decoder.remove_errors_from_cache();
            CodecError::RegistryUnavailable(format!("schema {id}: {e}"))
        })?;
        let schema = Arc::new(fetched.parsed.clone());
        let mut readers = self.readers.write().expect("poisoned");
        Ok(readers.entry(id).or_insert(schema).clone())
    }
}

/// Appends the Avro datum of `record`, written with the schema this code writes.
pub fn write_datum<R: LedgerRecord>(record: &R, out: &mut Vec<u8>) -> Result<(), CodecError> {
    GenericDatumWriter::builder(R::schema())
        .build()
        .and_then(|writer| writer.write_value(out, record.to_value()))
        .map(|_| ())
        .map_err(|e| CodecError::Malformed(format!("{} cannot be written: {e}", R::FULL_NAME)))
}

/// Reads a datum written with `writer` into the current shape.
pub fn read_datum<R: LedgerRecord>(writer: &Schema, mut datum: &[u8]) -> Result<R, CodecError> {
    let malformed = |e: apache_avro::Error| CodecError::Malformed(e.to_string());
    let mut value = GenericDatumReader::builder(writer)
        .build()
        .and_then(|reader| reader.read_value(&mut datum))
        .map_err(malformed)?;
    if writer.canonical_form() != R::schema().canonical_form() {
        widen_decimals(&mut value);
        value = value.resolve(R::schema()).map_err(malformed)?;
    }
    Ok(R::from_value(value)?)
}
