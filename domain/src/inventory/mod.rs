//! Stock: one event-sourced aggregate per product, on `inventory.events` keyed by product
//! id. Pure like the order aggregate: [`decide_stock`] turns a [`StockCommand`] into one
//! [`StockEvent`] or a [`StockError`]; [`fold_stock`] is the fold rule every reader uses.
//!
//! `on_hand` counts the units in the warehouse; reservations hold some of them for order
//! lines until the line ships (commit: the units leave) or is released. The invariant is
//! `reserved <= on_hand`: nothing takes stock below zero.

mod decide;
#[cfg(test)]
mod tests;

pub use decide::{check_stock_command, decide_stock, fold_stock};

use crate::EventMeta;
use std::collections::BTreeMap;

/// Most units one receipt, adjustment or reservation moves.
pub const MAX_UNITS: u32 = 1_000_000;

/// One line of one order: what a reservation is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRef {
    pub order_id: String,
    /// The line's position in the order's items, from 0.
    pub line: u32,
}

/// The state of one product's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    pub product_id: String,
    /// The version of the last accepted event, 0 before any.
    pub version: u64,
    /// Units in the warehouse, reserved or not.
    pub on_hand: u64,
    /// Units held for order lines, by line.
    pub reservations: BTreeMap<LineRef, u32>,
}

impl Stock {
    /// A product nothing has happened to.
    pub fn new(product_id: impl Into<String>) -> Stock {
        Stock {
            product_id: product_id.into(),
            version: 0,
            on_hand: 0,
            reservations: BTreeMap::new(),
        }
    }

    /// Units held by reservations.
    pub fn reserved(&self) -> u64 {
        self.reservations.values().map(|&q| u64::from(q)).sum()
    }

    /// Units that may still be reserved.
    pub fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.reserved())
    }
}

/// What a caller asks of a product's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockCommand {
    /// Units arrived (operators).
    Receive { quantity: u32 },
    /// A count found more or fewer units than recorded (operators).
    Adjust { delta: i64, reason: String },
    /// Hold units for an order line (fulfilment).
    Reserve { line: LineRef, quantity: u32 },
    /// Give a line's units back (fulfilment: rejection, cancellation).
    Release { line: LineRef },
    /// The line shipped: its units leave the warehouse (fulfilment).
    Commit { line: LineRef },
}

/// The content of a stock event, one variant per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockChange {
    Received { quantity: u32 },
    Adjusted { delta: i64, reason: String },
    Reserved { line: LineRef, quantity: u32 },
    Released { line: LineRef, quantity: u32 },
    Committed { line: LineRef, quantity: u32 },
}

/// One fact about one product's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockEvent {
    pub product_id: String,
    pub version: u64,
    pub meta: EventMeta,
    pub change: StockChange,
}

/// Why [`decide_stock`] refused a command. None is a fault of the system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    /// Fields break the rules. Handling: 422 with every violation.
    #[error("the command has {} invalid field(s)", .0.len())]
    Invalid(Vec<crate::Violation>),
    /// Fewer units are available than asked. Handling: fulfilment rejects the order.
    #[error("only {available} unit(s) of {product_id} available, {requested} asked")]
    OutOfStock {
        product_id: String,
        available: u64,
        requested: u32,
    },
    /// The line already holds a reservation. Handling: the reservation exists, which is
    /// what was asked: a repeated step is a success (reserving is idempotent per line).
    #[error("the line already holds {quantity} unit(s)")]
    AlreadyReserved { quantity: u32 },
    /// The line holds no reservation to release or commit. Handling: for a release, done
    /// already; for a commit, nothing to commit (the caller's state says why).
    #[error("the line holds no reservation")]
    NotReserved,
    /// An adjustment would leave fewer units than are reserved. Handling: 409; release or
    /// ship the reservations first.
    #[error("{on_hand} unit(s) on hand, {reserved} reserved: the adjustment goes below that")]
    BelowReserved { on_hand: u64, reserved: u64 },
}
