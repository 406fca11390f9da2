//! Errors of the schemas crate boundary.

use thiserror::Error;

/// A wire record that does not map to a domain event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("field `{field}` {problem}")]
pub struct WireError {
    pub field: String,
    pub problem: String,
}

impl WireError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        WireError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Why an event could not be encoded or decoded. Only [`CodecError::Malformed`] and
/// [`CodecError::Invalid`] are the record's own fault ([`CodecError::is_poison`]); a reader
/// skips or dead-letters nothing else.
#[derive(Debug, Clone, Error)]
pub enum CodecError {
    /// The registry could not be reached or answered with a server error. Handling:
    /// transient; retry with backoff, never skip the record (readers) and answer 503
    /// (writers).
    #[error("schema registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The registry has no schema with the id a record carries (it answered 404). The log
    /// holds that id, so this registry is not the one the log was written with: it lost
    /// its schemas, or the URL names another one. Handling: not poison; a reader stops at
    /// the record, reports not ready with this reason and keeps retrying with backoff (a
    /// restored or corrected registry lets it go on by itself); it never skips or
    /// dead-letters the record.
    #[error(
        "the registry has no schema with id {id}, which the log holds: a lost registry or \
         the wrong one (check ORDERFLOW_SCHEMA_REGISTRY_URL)"
    )]
    UnknownSchema { id: u32 },
    /// The registry refused to register or find the code's own schema, or its client
    /// cannot be configured. Decoding never returns it. Handling: the writer does not come
    /// up (misconfiguration) and retries its start-up with backoff.
    #[error("schema registry refused: {0}")]
    Registry(String),
    /// The bytes are not a Confluent-framed Avro record of a known event type, or do not
    /// resolve to the schema the code reads. Handling: poison; dead-letter the record.
    #[error("undecodable record: {0}")]
    Malformed(String),
    /// The record decoded but its content breaks the domain's rules (negative version,
    /// quantity out of range). Handling: poison; dead-letter the record.
    #[error("invalid event: {0}")]
    Invalid(#[from] WireError),
}

impl CodecError {
    /// Whether retrying the same operation later may succeed without anyone stepping in:
    /// the registry was only unreachable. An [`CodecError::UnknownSchema`] may also pass
    /// on a retry, but only once someone restores the registry, so readers report it.
    pub fn is_transient(&self) -> bool {
        matches!(self, CodecError::RegistryUnavailable(_))
    }

    /// Whether the record itself is at fault, so no retry can ever read it: its bytes or
    /// its content. The only errors a reader may skip or dead-letter a record for; every
    /// other one (the registry's) is waited out.
    pub fn is_poison(&self) -> bool {
        matches!(self, CodecError::Malformed(_) | CodecError::Invalid(_))
    }
}
