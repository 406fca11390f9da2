//! The read model's shapes: the full state of an order as the read side keeps it, and the
//! rows a batch adds. Plain data; the fold fills them, the writers store them.

use chrono::{DateTime, NaiveDate, Utc};
use orderflow_domain::{Decimal, Event, LineItem, Status, Timestamp};
use serde_json::{Value, json};
use uuid::Uuid;

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

/// Everything the read side knows about one order: a row of `orders` with its items, and
/// the JSON document cached in Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub status: Status,
    pub items: Vec<LineItem>,
    pub total_amount: Decimal,
    pub currency: String,
    pub shipping_address: String,
    pub warehouse: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<NaiveDate>,
    pub location: Option<String>,
    pub cancel_reason: Option<String>,
    pub version: u64,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    /// The document cached in Redis. Money is a decimal string (ADR 0003), times RFC 3339.
    pub fn to_json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                json!({
                    "line_no": i + 1,
                    "product_id": item.product_id,
                    "quantity": item.quantity,
                    "unit_price": item.unit_price.to_string(),
                })
            })
            .collect();
        json!({
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "status": self.status.as_str(),
            "items": items,
            "total_amount": self.total_amount.to_string(),
            "currency": self.currency,
            "shipping_address": self.shipping_address,
            "warehouse": self.warehouse,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "estimated_delivery": self.estimated_delivery.map(|d| d.to_string()),
            "location": self.location,
            "cancel_reason": self.cancel_reason,
            "version": self.version,
            "placed_at": self.placed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "updated_at": self.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }
}

/// An order the batch changed, in its state after the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    pub view: OrderView,
    /// Placed in this batch, so its items are new rows too.
    pub placed: bool,
}

/// One accepted event, as a row of `order_history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub order_id: String,
    pub version: u64,
    pub event_type: &'static str,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The event's content and metadata (idempotency key, correlation id).
    pub data: Value,
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

/// Converts the domain's epoch milliseconds.
pub fn to_datetime(ts: Timestamp) -> DateTime<Utc> {
    // Out-of-range instants cannot come from the codec (Avro timestamp-millis fits).
    DateTime::from_timestamp_millis(ts.0).unwrap_or_default()
}
