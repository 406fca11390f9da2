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

/// Why an event could not be encoded or decoded.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The registry could not be reached or answered with a server error. Handling:
    /// transient; retry with backoff, never skip the record (readers) and answer 503
    /// (writers).
    #[error("schema registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The registry refused a schema or knows no schema for the record's id. Handling:
    /// writers fail start-up (misconfiguration); readers treat the record as poison.
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
    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, CodecError::RegistryUnavailable(_))
    }
}
