//! [`EventCodec`]: domain events to and from Confluent-framed Avro, through the registry.

use crate::catalog::EventType;
use crate::error::CodecError;
use crate::upcast;
use crate::wire::WireEvent;
use apache_avro::Schema;
use apache_avro::types::Value;
use orderflow_domain::Event;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::avro_common::AvroSchema;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use std::sync::Arc;
use std::time::Duration;

/// Where the Schema Registry is and how to talk to it.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Base URL, e.g. `http://127.0.0.1:8081`.
    pub url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// `user:password` for HTTP basic auth (Confluent Cloud style), if any.
    pub basic_auth: Option<String>,
}

/// Where the registry is, as every service configures it (flattened into its settings):
/// `--registry-url`/`ORDERFLOW_SCHEMA_REGISTRY_URL`, `--registry-auth`/`..._AUTH`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Schema Registry base URL.
    #[arg(
        long = "registry-url",
        env = "ORDERFLOW_SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub url: String,
    /// `user:password` for the registry, if it needs basic auth.
    #[arg(long = "registry-auth", env = "ORDERFLOW_SCHEMA_REGISTRY_AUTH")]
    pub auth: Option<String>,
}

impl RegistryArgs {
    /// The registry at `url`, without auth.
    pub fn new(url: &str) -> Self {
        RegistryArgs {
            url: url.to_owned(),
            auth: None,
        }
    }

    /// The client settings, with a 5 s timeout per request.
    pub fn settings(&self) -> RegistrySettings {
        RegistrySettings {
            url: self.url.clone(),
            timeout: Duration::from_secs(5),
            basic_auth: self.auth.clone(),
        }
    }
}

/// Encodes and decodes the events of one topic. Schemas and ids are cached after first
/// use, so the registry is only asked once per event type and per schema id.
pub struct EventCodec {
    encoder: AvroEncoder,
    decoder: AvroDecoder,
    /// Register-or-find strategies, carrying the schema text (used once at start-up).
    registrations: Vec<SubjectNameStrategy>,
    /// The same subjects without the schema text, so encoding clones no schema per record.
    subjects: Vec<SubjectNameStrategy>,
}

impl EventCodec {
    /// A codec for `topic`. Talks to the registry lazily; see [`EventCodec::register_all`].
    pub fn new(registry: &RegistrySettings, topic: &str) -> Result<Self, CodecError> {
        let mut builder = SrSettings::new_builder(registry.url.clone());
        builder.set_timeout(registry.timeout);
        if let Some((user, password)) = registry
            .basic_auth
            .as_deref()
            .and_then(|a| a.split_once(':'))
        {
            builder.set_basic_authorization(user, Some(password));
        }
        let settings = builder
            .build()
            .map_err(|e| CodecError::Registry(e.to_string()))?;
        let registrations = EventType::ALL
            .iter()
            .map(|t| {
                let source = t.schema_source().to_owned();
                let schema = SuppliedSchema::new(Some(t.full_name()), SchemaType::Avro, source);
                SubjectNameStrategy::TopicRecordNameStrategyWithSchema(topic.to_owned(), schema)
            })
            .collect();
        let subjects = EventType::ALL
            .iter()
            .map(|t| SubjectNameStrategy::TopicRecordNameStrategy(topic.to_owned(), t.full_name()))
            .collect();
        Ok(EventCodec {
            encoder: AvroEncoder::new(settings.clone()),
            decoder: AvroDecoder::new(settings),
            registrations,
            subjects,
        })
    }

    /// Registers the schema of every event type under its subject (or finds it registered)
    /// and caches the ids for writing and reading, so a writer fails at start-up rather than
    /// on its first command, and reads back its own events without asking the registry.
    pub async fn register_all(&self) -> Result<(), CodecError> {
        for strategy in &self.registrations {
            let subject = strategy.get_subject().map_err(registry_error)?;
            let schema = self
                .encoder
                .get_schema_and_id(&subject, strategy.clone())
                .await
                .map_err(registry_error)?;
            self.schema_by_id(schema.id).await?;
        }
        Ok(())
    }

    /// The Confluent-framed Avro bytes of `event`.
    pub async fn encode(&self, event: &Event) -> Result<Vec<u8>, CodecError> {
        let wire = WireEvent::from(event);
        let strategy = &self.subjects[wire.body.event_type() as usize];
        self.encoder
            .encode_value(wire.to_value(), strategy)
            .await
            .map_err(registry_error)
    }

    /// The domain event in `bytes`, written with any registered schema of a known event
    /// type and resolved to the schema this code reads.
    pub async fn decode(&self, bytes: &[u8]) -> Result<Event, CodecError> {
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(CodecError::Malformed(
                "not in the Confluent wire format (magic byte 0, 4-byte schema id)".into(),
            ));
        }
        let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        // Fetched (and classified) first, so the decode below never calls the registry.
        let writer = self.schema_by_id(id).await?;
        let name = match &writer.parsed {
            Schema::Record(record) => record.name.fullname(None),
            _ => {
                return Err(CodecError::Malformed(format!(
                    "schema {id} is not a record"
                )));
            }
        };
        let event_type = EventType::from_full_name(&name)
            .ok_or_else(|| CodecError::Malformed(format!("unknown event type {name}")))?;
        let decoded = self
            .decoder
            .decode(Some(bytes))
            .await
            .map_err(|e| CodecError::Malformed(format!("{name} cannot be read: {e}")))?;
        let mut value = decoded.value;
        if let Some(version) = upcast::writer_version(event_type, &writer.parsed) {
            for upcaster in upcast::upcasters(event_type, version) {
                upcaster(&mut value);
            }
        }
        widen_decimals(&mut value);
        let value = value.resolve(event_type.schema()).map_err(|e| {
            CodecError::Malformed(format!("{name} does not resolve to the reader schema: {e}"))
        })?;
        Ok(Event::try_from(WireEvent::from_value(event_type, value)?)?)
    }

    /// The writer schema with `id`. Only a registry that answers "no such schema" makes the
    /// record poison; any other failure (timeouts, 5xx, auth) is transient, and the
    /// decoder's cached error is dropped so the next attempt asks again.
    async fn schema_by_id(&self, id: u32) -> Result<Arc<AvroSchema>, CodecError> {
        self.decoder.get_schema(id).await.map_err(|e| {
            let text = format!("{e}");
            if text.contains("status 404") {
                CodecError::Registry(format!("the registry has no schema with id {id}"))
            } else {
                self.decoder.remove_errors_from_cache();
                CodecError::RegistryUnavailable(format!("schema {id}: {text}"))
            }
        })
    }
}

/// Bytes every decimal is widened to before resolution. apache-avro 0.22's
/// `Value::resolve` refuses a `bytes` decimal whose byte length could not hold the
/// schema's full precision (12 digits need 6 bytes), although Avro writers (Java's
/// included) write the shortest two's complement. Sign-extending keeps the value.
const DECIMAL_RESOLVE_BYTES: usize = 8;

pub(crate) fn widen_decimals(value: &mut Value) {
    match value {
        Value::Decimal(d) => {
            let Ok(bytes) = <Vec<u8>>::try_from(&*d) else {
                return;
            };
            if bytes.len() < DECIMAL_RESOLVE_BYTES {
                let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut wide = vec![fill; DECIMAL_RESOLVE_BYTES - bytes.len()];
                wide.extend_from_slice(&bytes);
                *d = apache_avro::Decimal::from(wide);
            }
        }
        Value::Record(fields) => fields.iter_mut().for_each(|(_, v)| widen_decimals(v)),
        Value::Array(items) => items.iter_mut().for_each(widen_decimals),
        Value::Union(_, inner) => widen_decimals(inner),
        _ => {}
    }
}

fn registry_error(e: SRCError) -> CodecError {
    let text = match &e.cause {
        Some(cause) => format!("{}: {cause}", e.error),
        None => e.error.clone(),
    };
    if e.retriable {
        CodecError::RegistryUnavailable(text)
    } else {
        CodecError::Registry(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(bytes: Vec<u8>) -> Value {
        Value::Decimal(apache_avro::Decimal::from(bytes))
    }

    #[test]
    fn shortest_form_decimals_resolve_after_widening() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}"#,
        )
        .unwrap();
        for (short, wide) in [
            (vec![0x0a, 0x27], vec![0, 0, 0, 0, 0, 0, 0x0a, 0x27]),
            (
                vec![0x80],
                vec![0xff; 7].into_iter().chain([0x80]).collect(),
            ),
        ] {
            assert!(
                money(short.clone()).resolve(&schema).is_err(),
                "the library bug this works around"
            );
            let mut value = Value::Array(vec![money(short)]);
            widen_decimals(&mut value);
            assert_eq!(value.clone(), Value::Array(vec![money(wide)]));
            let array = apache_avro::Schema::parse_str(
                r#"{"type":"array","items":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}"#,
            )
            .unwrap();
            assert!(value.resolve(&array).is_ok());
        }
    }
}
