//! The aggregates of orderflow: pure, synchronous, free of I/O.
//!
//! Everything that decides what may happen to an order lives here, and nothing else does:
//! no clock, no random ids, no network. Time and ids come in through [`EventMeta`], so the
//! same inputs always give the same event.
//!
//! - [`decide`] turns a [`Command`] and the current [`Order`] state into exactly one
//!   [`Event`] or a [`DomainError`].
//! - [`apply`] folds an accepted event into the state.
//! - [`fold`] is *the* fold rule every reader of the log uses (the command side's rebuild,
//!   the projector, replay): an event whose version is not exactly `current + 1`, or whose
//!   transition the state does not allow, is ignored and reported, so every reader folds
//!   the same log to the same state even after duplicate or conflicting appends.
//!
//! Beside the order, two aggregates of fulfilment follow the same rules:
//! [`inventory`] (one stock per product) and [`payment`] (one per order), each folded with
//! the same version rule (`ledger`).
//!
//! Layout: `status` (the lifecycle table), `command`, `event`, `validate` (field rules and
//! limits), `decide`, `fold`, `error`; `inventory/`, `payment/`, `ledger`.

mod command;
mod decide;
mod error;
mod event;
mod fold;
pub mod inventory;
mod ledger;
pub mod payment;
mod status;
mod validate;

#[cfg(test)]
mod confirmation_tests;
#[cfg(test)]
mod fold_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod test_framework;

pub use command::{Command, CommandKind, Fingerprint, PlaceOrder};
pub use decide::decide;
pub use error::{DomainError, Violation};
pub use event::{
    Confirmation, Date, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp,
};
pub use fold::{Fold, FoldOutcome, Order, apply, fold};
pub use ledger::LedgerOutcome;
pub use rust_decimal::Decimal;
pub use status::Status;
pub use validate::limits;
pub use validate::{validate_order_id, violations};
