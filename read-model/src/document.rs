//! The documents: an order as the read side keeps and serves it ([`OrderView`]), and one
//! accepted event of its history, as the projector writes it ([`HistoryRow`]) and as the
//! query API serves it ([`HistoryEvent`]).
//!
//! The JSON shape is defined here once, by `Serialize`: the projector caches exactly this
//! document in Redis, and the query API serves it on a cache miss from the same type,
//! loaded from Postgres by [`crate::load_orders`]. Money is a decimal string with two
//! places (ADR 0003), times are RFC 3339 in UTC with milliseconds.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use orderflow_domain::{Decimal, LineItem, Status};
use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

/// Everything the read side knows about one order: a row of `orders` with its items, and
/// the JSON document cached in Redis and served by `GET /orders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    #[serde(serialize_with = "status_name")]
    pub status: Status,
    /// Served numbered from 1 (`line_no`), as `order_items` stores them.
    #[serde(serialize_with = "numbered_items")]
    pub items: Vec<LineItem>,
    #[serde(serialize_with = "money_text")]
    pub total_amount: Decimal,
    pub currency: String,
    pub shipping_address: String,
    pub warehouse: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// Served as `YYYY-MM-DD`.
    pub estimated_delivery: Option<NaiveDate>,
    pub location: Option<String>,
    pub cancel_reason: Option<String>,
    pub version: u64,
    #[serde(serialize_with = "timestamp_text")]
    pub placed_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp_text")]
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    /// The document as a JSON value: what the projector caches and the query API serves.
    pub fn to_json(&self) -> Value {
        // Strings, numbers and nulls into a `Value`: serialising cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The order as a list entry (`GET /orders`): the document with the number of its
    /// lines (`items_count`) instead of the lines.
    pub fn summary_json(&self) -> Value {
        let mut doc = self.to_json();
        if let Some(fields) = doc.as_object_mut() {
            fields.remove("items");
            fields.insert("items_count".into(), self.items.len().into());
        }
        doc
    }
}

/// One line of an order's document.
#[derive(Serialize)]
struct ItemDocument<'a> {
    line_no: usize,
    product_id: &'a str,
    quantity: u32,
    #[serde(serialize_with = "money_text")]
    unit_price: Decimal,
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

/// One event of an order's history as `GET /orders/{id}/history` serves it, read from
/// `order_history` by [`crate::load_history`].
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HistoryEvent {
    pub version: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(serialize_with = "timestamp_text")]
    pub occurred_at: DateTime<Utc>,
    pub data: Value,
}

impl From<&HistoryRow> for HistoryEvent {
    /// What a written row reads back as.
    fn from(row: &HistoryRow) -> HistoryEvent {
        HistoryEvent {
            version: row.version as i64,
            event_type: row.event_type.to_owned(),
            occurred_at: row.occurred_at,
            data: row.data.clone(),
        }
    }
}

/// Money as every document writes it: a decimal string with exactly two places ("51.98",
/// "0.00"), the scale of `numeric(12, 2)` and of the events' `decimal(12, 2)`, so an amount
/// reads the same whichever side it came from.
pub fn money(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

/// A time as every document writes it: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn status_name<S: Serializer>(status: &Status, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(status.as_str())
}

fn numbered_items<S: Serializer>(items: &[LineItem], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(items.iter().enumerate().map(|(i, item)| ItemDocument {
        line_no: i + 1,
        product_id: &item.product_id,
        quantity: item.quantity,
        unit_price: item.unit_price,
    }))
}

fn money_text<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&money(*amount))
}

fn timestamp_text<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&timestamp(*at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn history_events_are_served_with_their_type() {
        let row = HistoryRow {
            order_id: "o-1".into(),
            version: 2,
            event_type: "OrderPacked",
            event_id: Uuid::nil(),
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap(),
            data: json!({"warehouse": "AMS-1"}),
        };
        assert_eq!(
            serde_json::to_value(HistoryEvent::from(&row)).unwrap(),
            json!({
                "version": 2, "type": "OrderPacked",
                "occurred_at": "2026-01-10T12:00:00.000Z", "data": {"warehouse": "AMS-1"}
            })
        );
    }

    #[test]
    fn money_has_two_places() {
        assert_eq!(money(Decimal::new(5198, 2)), "51.98");
        assert_eq!(money(Decimal::ZERO), "0.00");
        assert_eq!(money(Decimal::new(55, 1)), "5.50");
    }
}
