//! The stock and payment logs, each written by one [`Ledger`]: a single writer that
//! decides each command against the aggregate folded from its log, appends one event, and
//! answers only once it has read that event back and the fold accepted it (as the command
//! service does for orders, ADR 0001).
//!
//! - `aggregate`: the [`Aggregate`] port, and its two implementations over the domain's
//!   stock and payment;
//! - `handle`: [`Ledger`], what callers hold: submit a command, read a state;
//! - `writer`: the task that owns the states, the producer and the reader of the log.

mod aggregate;
mod handle;
mod writer;

pub use aggregate::Aggregate;
pub use handle::{Answered, Ledger, LedgerConfig, LedgerError, OnAccepted};
pub use writer::spawn;
