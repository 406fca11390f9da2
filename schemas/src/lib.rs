//! The contract of the `orders.events` log: Avro schemas, wire types, and the codec that
//! reads and writes them in the Confluent wire format through a Schema Registry.
//!
//! The `.avsc` files under `schemas/avro/<EventType>/vN.avsc` are the source of truth; this
//! crate embeds them at compile time, so the code can never write a shape the files do not
//! describe. Wire types ([`WireEvent`]) mirror the Avro records field for field and are
//! kept apart from the domain's [`orderflow_domain::Event`]: `From`/`TryFrom` convert
//! between the two, which is where old wire shapes will be upcast when schemas evolve.
//!
//! Layout:
//! - `catalog`: the event types, their record names, subjects and parsed schemas;
//! - `wire`: the wire structs and their mapping to and from Avro values;
//! - `convert`: wire ⇄ domain;
//! - `datum`: one record without the registry: the frame, [`ReadPlan`] (read with a writer
//!   schema, upcast, resolve, map to the domain), writing with the current schema;
//! - `codec`: [`EventCodec`], encode/decode through the registry;
//! - `compatibility`: Confluent's compatibility levels decided with apache-avro;
//! - `history`: the `vN.avsc` history on disk and its offline check (`schemas check`);
//! - `registry_tool`: the same check asked of a registry, and registration;
//! - `ledger`: the fulfilment logs' records (`inventory.events`, `payments.events`) and
//!   [`ledger::LedgerCodec`], whose histories are `schemas/inventory/` and `schemas/payments/`;
//! - `outbound`: the notifier's `notifications.outbound` records ([`OutboundCodec`]), whose
//!   history is `schemas/notifications/`;
//! - `upcast`: typed upcasters per (event type, writer version), for changes Avro
//!   resolution cannot express;
//! - `error`: [`CodecError`].
//!
//! Dependencies point inward: services → schemas → domain.

mod catalog;
mod codec;
mod compatibility;
mod convert;
mod datum;
mod error;
mod history;
pub mod ledger;
mod outbound;
mod registry_tool;
mod upcast;
mod wire;

pub use catalog::{EventType, NAMESPACE, subject_for};
pub use codec::{EventCodec, RegistryArgs, RegistrySettings};
pub use compatibility::{CompatibilityLevel, Earlier, UnknownLevel, check, error_chain};
pub use datum::{ReadPlan, parse_frame, write_datum};
pub use error::{CodecError, WireError};
pub use history::{DEFAULT_LEVEL, HistoryError, SchemaHistory, load_histories};
pub use outbound::{NOTIFICATION_SENT_SCHEMA, NotificationSent, OUTBOUND_TOPIC, OutboundCodec};
pub use registry_tool::{RegistryEndpoint, RegistryToolError, check_with_registry, register};
pub use upcast::schema_versions;
pub use wire::{WireBody, WireEnvelope, WireEvent, WireItem};
