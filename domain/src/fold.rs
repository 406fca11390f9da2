//! The aggregate state and the fold rule shared by every reader of the log.

use crate::event::Event;
use crate::ledger::version_conflict;
use crate::status::{Status, transition};

/// What the write side needs to know about one order to decide on the next command. It is
/// deliberately small: read models keep the full picture, the aggregate keeps only what
/// its rules look at, so millions of them fit in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    /// `None` until the order is placed.
    pub status: Option<Status>,
    /// The version of the last accepted event, 0 before any.
    pub version: u64,
}

impl Order {
    /// The state of an order nothing has happened to yet.
    pub fn new(id: impl Into<String>) -> Self {
        Order {
            id: id.into(),
            status: None,
            version: 0,
        }
    }
}

/// Applies an event the fold has accepted. Only call it with events that [`fold`] accepts
/// (or that [`crate::decide`] just produced); use [`fold`] for anything read from the log.
pub fn apply(mut order: Order, event: &Event) -> Order {
    order.status = Some(event.kind.resulting_status());
    order.version = event.version;
    order
}

/// What the fold rule made of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldOutcome {
    /// The event was the next one for its order and became part of its state.
    Accepted,
    /// The event's version is not `current + 1`: a duplicate or a conflicting append by
    /// another writer. Ignored and counted; the log's first event for a version wins.
    VersionConflict { current: u64, got: u64 },
    /// The version is right but the lifecycle does not allow the change (for instance a
    /// delivery of an order that was never shipped). Ignored; readers treat it as poison.
    TransitionNotAllowed { from: Option<Status> },
}

/// The result of folding one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    pub order: Order,
    pub outcome: FoldOutcome,
}

/// The fold rule: accept `event` only if its version is exactly `current + 1` and the
/// lifecycle allows it; otherwise leave the state as it is and say why.
pub fn fold(order: Order, event: &Event) -> Fold {
    if let Some((current, got)) = version_conflict(order.version, event.version) {
        let outcome = FoldOutcome::VersionConflict { current, got };
        return Fold { order, outcome };
    }
    if transition(order.status, event.kind.command_kind()).is_none() {
        let outcome = FoldOutcome::TransitionNotAllowed { from: order.status };
        return Fold { order, outcome };
    }
    Fold {
        order: apply(order, event),
        outcome: FoldOutcome::Accepted,
    }
}
