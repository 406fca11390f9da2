//! The fold's shapes: the records it reads, and what a batch changes. Plain data; the fold
//! fills them, the writers store them. The order document and the history row are the read
//! model's contract with the query API, so they live in `orderflow_read_model`.

use chrono::{DateTime, Utc};
use orderflow_domain::{Decimal, Event};
pub use orderflow_read_model::{HistoryRow, OrderView, to_datetime};

/// Where a record sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub partition: i32,
    pub offset: i64,
}

/// A record of the batch that decoded into a domain event.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRecord {
    pub position: Position,
    pub event: Event,
}

/// An order the batch changed, in its state after the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    pub view: OrderView,
    /// Placed in this batch, so its items are new rows too.
    pub placed: bool,
}

/// Increment of one hourly window (placements in the hour).
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyDelta {
    pub hour: DateTime<Utc>,
    pub order_count: i64,
    pub revenue: Decimal,
}

/// Increment of one product's placed quantity and revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductDelta {
    pub product_id: String,
    pub quantity: i64,
    pub revenue: Decimal,
}

/// An event the fold rule ignored: a duplicate or a conflicting append.
#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub position: Position,
    pub order_id: String,
    pub current: u64,
    pub got: u64,
}

/// An event whose version was right but whose transition the lifecycle forbids: poison.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub position: Position,
    pub reason: String,
}
