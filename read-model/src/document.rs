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
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// The pattern of every money string in the documents.
const MONEY_PATTERN: &str = r"^-?[0-9]+\.[0-9]{2}$";

/// Everything the read side knows about one order: a row of `orders` with its items, and
/// the JSON document cached in Redis and served by `GET /orders/{id}`.
///
/// Its OpenAPI schema (`Order`) is derived here, beside the `Serialize` that defines the
/// JSON, with each `serialize_with` field described as what it writes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Order, description = "An order as the read model holds it.")]
pub struct OrderView {
    #[schema(example = "ord-2026-0001")]
    pub order_id: String,
    #[schema(example = "c-42")]
    pub customer_id: String,
    #[serde(serialize_with = "status_name")]
    #[schema(schema_with = status_schema)]
    pub status: Status,
    /// Served numbered from 1 (`line_no`), as `order_items` stores them.
    #[serde(serialize_with = "numbered_items")]
    #[schema(value_type = Vec<ItemDocument<'static>>)]
    pub items: Vec<LineItem>,
    #[serde(serialize_with = "money_text")]
    #[schema(schema_with = money_schema)]
    pub total_amount: Decimal,
    #[schema(example = "EUR")]
    pub currency: String,
    pub shipping_address: String,
    pub warehouse: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// Served as `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date)]
    pub estimated_delivery: Option<NaiveDate>,
    pub location: Option<String>,
    pub cancel_reason: Option<String>,
    /// Why fulfilment rejected the order, in words for the customer.
    pub reject_reason: Option<String>,
    /// The number of events folded into the document; the `ETag` of `GET /orders/{id}`.
    #[schema(minimum = 1)]
    pub version: u64,
    #[serde(serialize_with = "timestamp_text")]
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp_text")]
    #[schema(value_type = String, format = DateTime)]
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
#[derive(Serialize, ToSchema)]
#[schema(as = OrderItem)]
struct ItemDocument<'a> {
    #[schema(minimum = 1)]
    line_no: usize,
    product_id: &'a str,
    #[schema(minimum = 1)]
    quantity: u32,
    #[serde(serialize_with = "money_text")]
    #[schema(schema_with = money_schema)]
    unit_price: Decimal,
}

/// The schema of a list entry ([`OrderView::summary_json`]): the `Order` schema with
/// `items_count` instead of `items`, derived from it so the two cannot disagree.
pub struct OrderSummary;

impl PartialSchema for OrderSummary {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut order)) = OrderView::schema() else {
            unreachable!("a struct's schema is an object");
        };
        order.properties.retain(|name, _| name != "items");
        order.required.retain(|name| name != "items");
        let count = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .description(Some("The number of lines of the order."));
        order.properties.insert("items_count".into(), count.into());
        order.required.push("items_count".into());
        order.description = Some("An order as `GET /orders` lists it: without its lines.".into());
        RefOr::T(Schema::Object(order))
    }
}

impl ToSchema for OrderSummary {}

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
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
#[schema(description = "One accepted event of an order.")]
pub struct HistoryEvent {
    /// The order's version after this event.
    #[schema(minimum = 1)]
    pub version: i64,
    /// The event's id in the log (the same in every copy of the event, so a consumer can
    /// drop a duplicate).
    #[schema(value_type = String, format = "uuid")]
    pub event_id: Uuid,
    /// The event type, e.g. `OrderPlaced`, `OrderPacked`.
    #[serde(rename = "type")]
    #[schema(example = "OrderPacked")]
    pub event_type: String,
    #[serde(serialize_with = "timestamp_text")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    /// The event's content and metadata (idempotency key, correlation id).
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<&HistoryRow> for HistoryEvent {
    /// What a written row reads back as.
    fn from(row: &HistoryRow) -> HistoryEvent {
        HistoryEvent {
            version: row.version as i64,
            event_id: row.event_id,
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

/// A lifecycle status as the documents write it: one of its lower-case names.
pub fn status_schema() -> Object {
    let names = [
        Status::Placed,
        Status::Packed,
        Status::Shipped,
        Status::Delivered,
        Status::Cancelled,
    ]
    .map(Status::as_str);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .build()
}

/// Money as [`money`] writes it.
pub fn money_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(MONEY_PATTERN))
        .description(Some("A decimal amount with exactly two places."))
        .examples(["51.98"])
        .build()
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
                "version": 2, "event_id": "00000000-0000-0000-0000-000000000000",
                "type": "OrderPacked", "occurred_at": "2026-01-10T12:00:00.000Z", "data": {"warehouse": "AMS-1"}
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
