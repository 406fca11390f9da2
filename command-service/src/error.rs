//! The error boundary between the HTTP layer and the partition workers.

use orderflow_domain::{CommandKind, DomainError, Status, Violation};
use thiserror::Error;

/// Why a command was not acknowledged. The HTTP layer maps each variant to one status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// Fields break the domain's rules. Handling: 422 with every violation.
    #[error("the request has invalid fields")]
    Invalid(Vec<Violation>),
    /// No such order. Handling: 404.
    #[error("order {0} does not exist")]
    NotFound(String),
    /// The lifecycle does not allow the command now. Handling: 409 naming both.
    #[error("cannot {} order {order_id}: it is {from}", .command.verb())]
    TransitionNotAllowed {
        order_id: String,
        from: Status,
        command: CommandKind,
    },
    /// `POST /orders` with an existing id and different content. Handling: 409.
    #[error("order {0} already exists with different content")]
    AlreadyExists(String),
    /// An `Idempotency-Key` reused (by the same caller) for a different request. Handling:
    /// 409.
    #[error("this Idempotency-Key was already used for a different request on this order")]
    IdempotencyKeyReused,
    /// The order has taken as many location updates as one order may. Handling: 409.
    #[error("order {order_id} already has {limit} location updates, the most one order may have")]
    LocationLimit { order_id: String, limit: u32 },
    /// `If-Match` named another version. Handling: 412 with the current version.
    #[error("order {order_id} is at version {current}, not {expected}")]
    VersionMismatch {
        order_id: String,
        expected: String,
        current: u64,
    },
    /// Another writer appended this version first; the log ignored ours. Handling: 409, the
    /// client re-reads and decides again.
    #[error(
        "order {order_id} was changed concurrently; version {version} was taken by another writer"
    )]
    ConcurrentWrite { order_id: String, version: u64 },
    /// The service is still replaying the log into its state. Handling: 503 + Retry-After.
    #[error("the service is replaying the event log into its state")]
    Replaying,
    /// The broker, or the registry, cannot be reached or did not confirm in time, or the
    /// order's partition waits at a record whose schema the registry does not know.
    /// Handling: 503 + Retry-After; nothing is acknowledged, a retry with the same
    /// Idempotency-Key is safe.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// Too many commands queued for one order or partition. Handling: 503 + Retry-After.
    #[error("too many commands in flight, try again shortly")]
    Overloaded,
}

impl CommandError {
    /// Maps a domain refusal for `order_id`.
    pub fn from_domain(order_id: &str, error: DomainError) -> Self {
        match error {
            DomainError::Invalid(v) => CommandError::Invalid(v),
            DomainError::NotFound => CommandError::NotFound(order_id.to_owned()),
            DomainError::AlreadyPlaced => CommandError::AlreadyExists(order_id.to_owned()),
            DomainError::TransitionNotAllowed { from, command } => {
                CommandError::TransitionNotAllowed {
                    order_id: order_id.to_owned(),
                    from,
                    command,
                }
            }
        }
    }
}
