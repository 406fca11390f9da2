//! [`EventCodec`]: domain events to and from Confluent-framed Avro, through the registry.

use crate::catalog::EventType;
use crate::datum::{ReadPlan, parse_frame, write_wire};
use crate::error::CodecError;
use crate::wire::WireEvent;
use orderflow_domain::Event;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::avro_common::AvroSchema;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    RawError, SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Where the Schema Registry is and how to talk to it.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Confluent-compatible base URL, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`
    /// (Apicurio) or `http://schema-registry:8081` (Confluent).
    pub url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// `user:password` for HTTP basic auth (Confluent Cloud style), if any.
    pub basic_auth: Option<String>,
}

impl RegistrySettings {
    /// The registry client's settings.
    pub(crate) fn client_settings(&self) -> Result<SrSettings, CodecError> {
        let mut builder = SrSettings::new_builder(self.url.clone());
        builder.set_timeout(self.timeout);
        if let Some((user, password)) = self.basic_auth.as_deref().and_then(|a| a.split_once(':')) {
            builder.set_basic_authorization(user, Some(password));
        }
        builder
            .build()
            .map_err(|e| CodecError::Registry(e.to_string()))
    }
}

/// Where the registry is, as every service configures it (flattened into its settings):
/// `--registry-url`/`ORDERFLOW_SCHEMA_REGISTRY_URL`, `--registry-auth`/`..._AUTH`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Schema Registry base URL: where Confluent's API is served (the local stack's
    /// Apicurio serves it under `/apis/ccompat/v7`).
    #[arg(
        long = "registry-url",
        env = "ORDERFLOW_SCHEMA_REGISTRY_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8081/apis/ccompat/v7"
    )]
    pub url: String,
    /// `user:password` for the registry, if it needs basic auth.
    #[arg(
        long = "registry-auth",
        env = "ORDERFLOW_SCHEMA_REGISTRY_AUTH",
        hide_env_values = true
    )]
    pub auth: Option<String>,
}

impl RegistryArgs {
    /// The registry at `url`, with the credential the binaries would take from the
    /// environment (`ORDERFLOW_SCHEMA_REGISTRY_AUTH`), if set: the local stack's registry
    /// takes writes only with one, and a registry without auth ignores it.
    pub fn new(url: &str) -> Self {
        RegistryArgs {
            url: url.to_owned(),
            auth: std::env::var("ORDERFLOW_SCHEMA_REGISTRY_AUTH").ok(),
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
/// use, so the registry is only asked once per event type and per schema id, and
/// everything Avro derives from a schema (named types, readers, writers) is built once
/// per schema, never per record.
pub struct EventCodec {
    encoder: AvroEncoder,
    decoder: AvroDecoder,
    /// Register-or-find strategies, carrying the schema text.
    registrations: Vec<SubjectNameStrategy>,
    /// The registry id of the schema the code writes, per event type.
    write_ids: [OnceLock<u32>; EventType::ALL.len()],
    /// How to read each writer schema id seen so far.
    read_plans: RwLock<HashMap<u32, Arc<ReadPlan>>>,
}

impl EventCodec {
    /// A codec for `topic`. Talks to the registry lazily; see [`EventCodec::register_all`].
    pub fn new(registry: &RegistrySettings, topic: &str) -> Result<Self, CodecError> {
        let settings = registry.client_settings()?;
        let registrations = EventType::ALL
            .iter()
            .map(|t| {
                let source = t.schema_source().to_owned();
                let schema = SuppliedSchema::new(Some(t.full_name()), SchemaType::Avro, source);
                SubjectNameStrategy::TopicRecordNameStrategyWithSchema(topic.to_owned(), schema)
            })
            .collect();
        Ok(EventCodec {
            encoder: AvroEncoder::new(settings.clone()),
            decoder: AvroDecoder::new(settings),
            registrations,
            write_ids: Default::default(),
            read_plans: RwLock::new(HashMap::new()),
        })
    }

    /// Registers the schema of every event type under its subject (or finds it registered)
    /// and caches the ids for writing and reading, so a writer fails at start-up rather than
    /// on its first command, and reads back its own events without asking the registry.
    pub async fn register_all(&self) -> Result<(), CodecError> {
        for event_type in EventType::ALL {
            let id = self.write_id(event_type).await?;
            self.read_plan(id).await?;
        }
        Ok(())
    }

    /// The id of the schema the code writes for `event_type`: registered (or found
    /// registered) on first use. Events are always written with the code's own schema, so
    /// a newer version registered by another service never changes what this one writes.
    async fn write_id(&self, event_type: EventType) -> Result<u32, CodecError> {
        let cell = &self.write_ids[event_type as usize];
        if let Some(id) = cell.get() {
            return Ok(*id);
        }
        let strategy = &self.registrations[event_type as usize];
        let subject = strategy.get_subject().map_err(registry_error)?;
        let registered = self
            .encoder
            .get_schema_and_id(&subject, strategy.clone())
            .await
            .map_err(registry_error)?;
        Ok(*cell.get_or_init(|| registered.id))
    }

    /// The Confluent-framed Avro bytes of `event`: magic byte 0, the schema id (big
    /// endian), then the Avro datum.
    pub async fn encode(&self, event: &Event) -> Result<Vec<u8>, CodecError> {
        let wire = WireEvent::from(event);
        let id = self.write_id(wire.body.event_type()).await?;
        let mut bytes = Vec::with_capacity(256);
        bytes.push(0);
        bytes.extend_from_slice(&id.to_be_bytes());
        write_wire(&wire, &mut bytes)?;
        Ok(bytes)
    }

    /// The domain event in `bytes`, written with any registered schema of a known event
    /// type and resolved to the schema this code reads.
    pub async fn decode(&self, bytes: &[u8]) -> Result<Event, CodecError> {
        let (id, datum) = parse_frame(bytes)?;
        self.read_plan(id).await?.decode(datum)
    }

    /// The read plan of schema `id`, prepared (and the schema fetched) on first use.
    async fn read_plan(&self, id: u32) -> Result<Arc<ReadPlan>, CodecError> {
        if let Some(plan) = self.read_plans.read().expect("plans poisoned").get(&id) {
            return Ok(plan.clone());
        }
        let writer = self.schema_by_id(id).await?;
        let plan = Arc::new(ReadPlan::new(id, &writer.parsed)?);
        let mut plans = self.read_plans.write().expect("plans poisoned");
        Ok(plans.entry(id).or_insert(plan).clone())
    }

    /// The writer schema with `id`. A registry that answers "no such schema" does not
    /// know the log ([`CodecError::UnknownSchema`]); any other failure (timeouts, 5xx,
    /// auth) is transient. Neither makes the record poison.
    async fn schema_by_id(&self, id: u32) -> Result<Arc<AvroSchema>, CodecError> {
        self.decoder.get_schema(id).await.map_err(|e| {
            // The decoder keeps a 404 cached for good; dropped, the next attempt asks the
            // registry again, so a restored registry lets readers go on by themselves.
            self.decoder.remove_errors_from_cache();
            if is_not_found(&e) {
                CodecError::UnknownSchema { id }
            } else {
                CodecError::RegistryUnavailable(format!("schema {id}: {e}"))
            }
        })
    }
}

/// Whether the registry answered 404. The client has no status field: its `error` reads
/// "HTTP request to schema registry failed with status 404 Not Found", and the body it
/// parsed (Confluent's `error_code` 40403, "schema not found") is the error's source.
/// Only `error` is searched, not the display text, which also quotes the registry's
/// message.
fn is_not_found(e: &SRCError) -> bool {
    let code = std::error::Error::source(e)
        .and_then(|source| source.downcast_ref::<RawError>())
        .map(|raw| raw.error_code);
    e.error.contains("status 404") || code == Some(SCHEMA_NOT_FOUND)
}

/// Confluent's error code for "schema not found" (Apicurio's compatibility API uses it too).
const SCHEMA_NOT_FOUND: u32 = 40403;

pub(crate) fn registry_error(e: SRCError) -> CodecError {
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
