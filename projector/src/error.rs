//! The one error type at the projector's boundary.

use orderflow_platform::{LogError, ReadToEndError};
use orderflow_schemas::CodecError;
use rdkafka::error::KafkaError;
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinError;
use tokio::time::error::Elapsed;

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
    /// An operator's request that cannot be done as asked: dropping the live generation,
    /// switching to an unknown or already live one, a second rebuild while one runs, a
    /// tool that needs a live generation before there is one. The message says which, so
    /// it is the whole error. Handling: reported to the operator; the command exits
    /// non-zero and nothing has changed.
    #[error("{0}")]
    Refused(String),
    /// Reading the log up to a bound (verify, repair) got neither a record nor the end
    /// for the stall limit ([`ReadToEndError::Stalled`]): a broker is away. Handling: the
    /// tool gives up and exits non-zero; run again, it reads from the start.
    #[error("{0}")]
    LogStalled(#[source] ReadToEndError),
    /// A blocking task (a metadata or watermark request) panicked or was cancelled before
    /// it answered. Handling: as for the Kafka error it stands in for: start-up retries
    /// with backoff, a tool exits non-zero.
    #[error("{task}: {source}")]
    TaskFailed {
        task: &'static str,
        #[source]
        source: JoinError,
    },
    /// The pipeline a step hands its work to has stopped: the batch loop a new consumer
    /// sends its first offsets to is gone (the run is ending), or a rebuild's pipeline
    /// ended before the switch. Handling: the consumer is not started, so the run ends or
    /// connects again; a rebuild returns the error and resumes from its stored offsets
    /// when run again. No source: a closed channel or a finished task carries no cause.
    #[error("{pipeline} stopped")]
    PipelineStopped { pipeline: &'static str },
    /// The rebuild was interrupted (Ctrl-C) before its pipeline had connected, so there is
    /// no progress to report. Handling: the rebuild exits non-zero; run again, it resumes.
    #[error("interrupted while {during}")]
    Interrupted { during: &'static str },
    /// The log cannot be trusted: its topic drifted from the log's settings, or it is not
    /// the log this read model folded (another topic id or partition count). Handling:
    /// fatal; at start-up the projector refuses to start, later it stops consuming and
    /// reports not ready. The way out is an operator's fix or a rebuild.
    #[error("{0}")]
    LogRefused(String),
    /// Writing the order cache to Redis failed: Redis refused the command or could not be
    /// reached. Handling (as for every `Redis*` variant): counted and logged
    /// (rate-limited); the projection goes on, the cache catches up with later versions or
    /// expires. Only a Redis URL that cannot be parsed fails earlier, when the cache is
    /// created: connecting retries it with backoff, a tool exits non-zero.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Writing the order cache to Redis took longer than its timeout. Handling: as for
    /// [`ProjectorError::Redis`]; what was acknowledged before the timeout stays written.
    #[error("redis: timed out after {after:?}")]
    RedisTimeout {
        after: Duration,
        #[source]
        source: Elapsed,
    },
    /// No Redis connection, and the last attempt to make one was too recent to try again
    /// (so a Redis that is down costs one refused connect per interval). No source: nothing
    /// was tried. Handling: as for [`ProjectorError::Redis`].
    #[error("redis: not connected")]
    RedisNotConnected,
}

impl From<LogError> for ProjectorError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Kafka(e) => ProjectorError::Kafka(e),
            refused @ LogError::Refused { .. } => ProjectorError::LogRefused(refused.to_string()),
        }
    }
}

impl From<ReadToEndError> for ProjectorError {
    fn from(e: ReadToEndError) -> Self {
        match e {
            ReadToEndError::Kafka(e) => ProjectorError::Kafka(e),
            stalled @ ReadToEndError::Stalled { .. } => ProjectorError::LogStalled(stalled),
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
            ProjectorError::Refused(_) => "refused",
            ProjectorError::LogStalled(_) => "log-stalled",
            ProjectorError::TaskFailed { .. } => "task-failed",
            ProjectorError::PipelineStopped { .. } => "pipeline-stopped",
            ProjectorError::Interrupted { .. } => "interrupted",
            ProjectorError::LogRefused(_) => "log-refused",
            ProjectorError::Redis(_) => "redis",
            ProjectorError::RedisTimeout { .. } => "redis-timeout",
            ProjectorError::RedisNotConnected => "redis-not-connected",
        }
    }
}
