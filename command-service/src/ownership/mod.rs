//! Partition ownership across command-service instances (ADR 0015).
//!
//! - `partitions`: what this instance does with each partition (not owned, replaying,
//!   serving), changed by the group's rebalances, read before every acknowledgement;
//! - `directory`: which instance owns which partition, from the consumer group's
//!   description (over `assignment`, the consumer protocol's bytes).
//!
//! Forwarding a command to the instance that serves its order is `http::forward`.

pub mod assignment;
pub mod directory;
pub mod partitions;

/// The answer to a command of a partition this instance does not serve (any more, or
/// yet): 503 with `Retry-After`, and the client retries with its `Idempotency-Key`.
pub(crate) fn moved() -> crate::error::CommandError {
    crate::error::CommandError::Unavailable(
        "the order's partition is moving between instances; retry".into(),
    )
}
