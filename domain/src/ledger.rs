//! The fold rule of the fulfilment aggregates (stock, payment), the same as the orders':
//! an event whose version is not exactly `current + 1` is ignored and counted, and so is
//! one the aggregate's invariants do not allow. The log decides; every reader folds it the
//! same way.

/// What the fold rule made of one event of a stock or a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOutcome {
    /// The event was the next one and became part of the state.
    Accepted,
    /// The event's version is not `current + 1`: a duplicate or another writer's append.
    VersionConflict { current: u64, got: u64 },
    /// The version is right but the invariants forbid the change (a reservation beyond
    /// the stock, a capture of a payment never authorized). Ignored; treated as poison.
    NotAllowed,
}

/// The version half of the rule, shared with the orders' [`crate::fold`].
pub(crate) fn version_conflict(current: u64, got: u64) -> Option<(u64, u64)> {
    (got != current + 1).then_some((current, got))
}
