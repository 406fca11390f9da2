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
    /// The writer of the schema this code writes, built once.
    writer: GenericDatumWriter<'static>,
    /// How to read each writer schema id, prepared on the first record of each.
    plans: RwLock<HashMap<u32, Arc<ReadPlan>>>,
    record: PhantomData<R>,
}

/// How to read the records written with one writer schema: its reader, and whether its
/// values must be resolved into the current schema (compared once, not per record).
pub struct ReadPlan {
    reader: GenericDatumReader<'static>,
    resolve: bool,
}

impl ReadPlan {
    /// The plan for `writer`. It keeps a copy of the schema for the life of the process:
    /// build one per schema, never per record.
    pub fn new<R: LedgerRecord>(writer: &Schema) -> Result<ReadPlan, CodecError> {
        let resolve = writer.canonical_form() != R::schema().canonical_form();
        let writer: &'static Schema = Box::leak(Box::new(writer.clone()));
        let reader = GenericDatumReader::builder(writer)
            .build()
            .map_err(|e| CodecError::Malformed(e.to_string()))?;
        Ok(ReadPlan { reader, resolve })
    }

    /// Reads a datum into the current shape.
    pub fn read<R: LedgerRecord>(&self, mut datum: &[u8]) -> Result<R, CodecError> {
        let malformed = |e: apache_avro::Error| CodecError::Malformed(e.to_string());
        let mut value = self.reader.read_value(&mut datum).map_err(malformed)?;
        if self.resolve {
            widen_decimals(&mut value);
            value = value.resolve(R::schema()).map_err(malformed)?;
        }
        Ok(R::from_value(value)?)
    }
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
            writer: GenericDatumWriter::builder(R::schema())
                .build()
                .map_err(|e| CodecError::Malformed(e.to_string()))?,
            plans: RwLock::new(HashMap::new()),
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
        self.writer
            .write_value(&mut bytes, record.to_value())
            .map_err(|e| {
                CodecError::Malformed(format!("{} cannot be written: {e}", R::FULL_NAME))
            })?;
        Ok(bytes)
    }

    /// The record in Confluent-framed `bytes`, written with any registered version.
    pub async fn decode(&self, bytes: &[u8]) -> Result<R, CodecError> {
        let (id, datum) = parse_frame(bytes)?;
        self.plan(id).await?.read(datum)
    }

    async fn plan(&self, id: u32) -> Result<Arc<ReadPlan>, CodecError> {
        if let Some(plan) = self.plans.read().expect("poisoned").get(&id) {
            return Ok(plan.clone());
        }
        let fetched = self.decoder.get_schema(id).await.map_err(|e| {
            self.decoder.remove_errors_from_cache();
            CodecError::RegistryUnavailable(format!("schema {id}: {e}"))
        })?;
        let plan = Arc::new(ReadPlan::new::<R>(&fetched.parsed)?);
        let mut plans = self.plans.write().expect("poisoned");
        Ok(plans.entry(id).or_insert(plan).clone())
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

/// Reads a datum written with `writer` into the current shape, with a plan of its own
/// (the codec keeps one per schema id).
pub fn read_datum<R: LedgerRecord>(writer: &Schema, datum: &[u8]) -> Result<R, CodecError> {
    ReadPlan::new::<R>(writer)?.read(datum)
}
