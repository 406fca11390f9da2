//! The one error type at the projector's boundary.

use orderflow_platform::LogError;
use orderflow_schemas::CodecError;
use rdkafka::error::KafkaError;
use thiserror::Error;

/// Why a step of the projector failed. Nothing here ever makes the projector skip a
/// record: every variant is either retried (the whole batch, whose offsets commit in the
/// same transaction as its rows, so a retry is safe) or only affects the Redis cache.
#[derive(Debug, Error)]
pub enum ProjectorError {
    /// Postgres refused or could not be reached. Handling: transient; the batch is rolled
    /// back and retried with backoff, and `/readyz` reports not ready until it succeeds.
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    /// The read-model migrations could not be applied. Handling: start-up retries with
    /// backoff and logs it; a migration that can never apply needs an operator.
    #[error("applying the read-model migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The Schema Registry is unavailable, or its client cannot be set up. Handling:
    /// transient; the batch (or start-up) is retried with backoff and no record is
    /// dead-lettered because of it; an operator command exits non-zero.
    #[error("schema registry: {0}")]
    Registry(CodecError),
    /// The registry has no schema for the id a record carries: it lost its schemas or is
    /// not the log's ([`CodecError::UnknownSchema`]). Handling: not poison; the batch is
    /// retried with backoff, never dead-lettered or committed past, and `/readyz` answers
    /// 503 naming the record until the batch commits; an operator command exits non-zero.
    #[error("partition {partition} at offset {offset}: {cause}")]
    UnknownSchema {
        partition: i32,
        offset: i64,
        cause: CodecError,
    },
    /// A Kafka client could not be created, a topic created, or a dead-letter record was
    /// not delivered. Handling: transient; start-up or the batch is retried with backoff
    /// (a retried batch may dead-letter the same poison record again: the DLQ is
    /// at-least-once).
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The offset stored for a partition is not the one this instance expected: another
    /// instance (a zombie from before a rebalance) folded part of it. Handling: adopt the
    /// stored offsets, drop the records below them, and fold the rest of the batch again.
    #[error("partition {partition}: stored next offset {stored}, expected {expected}")]
    Fenced {
        partition: i32,
        expected: i64,
        stored: i64,
    },
    /// The generation this projector writes is no longer live: a switch made another one
    /// live. Handling: the batch rolls back; the projector reconnects to the live
    /// generation and resumes from its stored offsets.
    #[error("generation {generation} is no longer live")]
    NotLive { generation: i64 },
    /// A generation operation that cannot be done as asked (dropping the live generation,
    /// an unknown id, a rebuild already running). Handling: reported to the operator; the
    /// command exits non-zero and nothing has changed.
    #[error("{0}")]
    Generation(String),
    /// The log cannot be trusted: its topic drifted from the log's settings, or it is not
    /// the log this read model folded (another topic id or partition count). Handling:
    /// fatal; at start-up the projector refuses to start, later it stops consuming and
    /// reports not ready. The way out is an operator's fix or a rebuild.
    #[error("{0}")]
    LogRefused(String),
    /// Writing the order cache to Redis failed or timed out. Handling: counted and logged
    /// (rate-limited); the projection goes on, the cache catches up with later versions
    /// or expires.
    #[error("redis: {0}")]
    Redis(String),
}

impl From<LogError> for ProjectorError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Kafka(e) => ProjectorError::Kafka(e),
            refused @ LogError::Refused { .. } => ProjectorError::LogRefused(refused.to_string()),
        }
    }
}

impl ProjectorError {
    /// Why the record at `partition`/`offset` cannot be read yet: `error` is not poison
    /// (see [`CodecError::is_poison`]), so the registry is at fault.
    pub(crate) fn unreadable(partition: i32, offset: i64, error: CodecError) -> Self {
        match error {
            CodecError::UnknownSchema { .. } => ProjectorError::UnknownSchema {
                partition,
                offset,
                cause: error,
            },
            other => ProjectorError::Registry(other),
        }
    }

    /// A stable, short name of the failure for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ProjectorError::Database(_) => "database",
            ProjectorError::Migrate(_) => "migrate",
            ProjectorError::Registry(_) => "registry",
            ProjectorError::UnknownSchema { .. } => "unknown-schema",
            ProjectorError::Kafka(_) => "kafka",
            ProjectorError::Fenced { .. } => "fenced",
            ProjectorError::NotLive { .. } => "not-live",
            ProjectorError::Generation(_) => "generation",
            ProjectorError::LogRefused(_) => "log-refused",
            ProjectorError::Redis(_) => "redis",
        }
    }
}
