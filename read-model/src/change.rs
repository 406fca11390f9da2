//! How one accepted event changes the read model's documents, written once for every
//! reader: the projector folds the log with it, and the query API's streams fold an
//! order's history with it to rebuild the document of each version a client missed.
//!
//! - [`apply`]: the order document after an event (the document's own fold; which events
//!   count is the shared fold rule's business, `orderflow_domain::fold`, applied before).
//! - [`history_row`] and [`HistoryEvent::event`]: an accepted event as its `order_history`
//!   row, and back, so a row read from Postgres folds exactly as the record read from the
//!   log did. A round-trip test holds the two together.

use crate::document::{HistoryEvent, HistoryRow, OrderView};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use orderflow_domain::OrderPlaced;
use orderflow_domain::Timestamp;
use orderflow_domain::{Confirmation, Date, Decimal, Event, EventKind, EventMeta, LineItem};
use serde_json::{Map, Value, json};
use std::str::FromStr;

/// The document after `event`, which the fold rule accepted. `view` is `None` only for a
/// placement.
pub fn apply(view: Option<OrderView>, event: &Event) -> OrderView {
    let at = to_datetime(event.meta.occurred_at);
    let mut view = match (view, &event.kind) {
        (_, EventKind::Placed(p)) => placed(&event.order_id, p, at),
        (Some(view), _) => view,
        // The fold rule only accepts a non-placement for an order that exists.
        (None, _) => unreachable!("the fold accepted a change of an order never placed"),
    };
    match &event.kind {
        EventKind::Placed(_) | EventKind::Delivered => {}
        EventKind::Packed { warehouse } => view.warehouse = Some(warehouse.clone()),
        EventKind::Shipped {
            carrier,
            tracking_number,
            estimated_delivery,
        } => {
            view.carrier = Some(carrier.clone());
            view.tracking_number = Some(tracking_number.clone());
            view.estimated_delivery = estimated_delivery.and_then(to_date);
        }
        EventKind::LocationUpdated { location } => view.location = Some(location.clone()),
        EventKind::Cancelled { reason } => view.cancel_reason = Some(reason.clone()),
        EventKind::Confirmed => {}
        EventKind::Rejected { reason } => view.reject_reason = Some(reason.clone()),
    }
    view.status = event.kind.resulting_status();
    view.version = event.version;
    view.updated_at = at;
    view
}

fn placed(order_id: &str, p: &OrderPlaced, at: DateTime<Utc>) -> OrderView {
    OrderView {
        order_id: order_id.to_owned(),
        customer_id: p.customer_id.clone(),
        status: EventKind::Placed(p.clone()).resulting_status(),
        items: p.items.clone(),
        total_amount: p.total_amount,
        currency: p.currency.clone(),
        shipping_address: p.shipping_address.clone(),
        warehouse: None,
        carrier: None,
        tracking_number: None,
        estimated_delivery: None,
        location: None,
        cancel_reason: None,
        reject_reason: None,
        version: 0,
        placed_at: at,
        updated_at: at,
    }
}

/// The `order_history` row of an accepted event.
pub fn history_row(event: &Event) -> HistoryRow {
    let mut data = match &event.kind {
        EventKind::Placed(p) => json!({
            "customer_id": p.customer_id,
            "items": p.items.iter().map(|i| json!({
                "product_id": i.product_id,
                "quantity": i.quantity,
                "unit_price": i.unit_price.to_string(),
            })).collect::<Vec<_>>(),
            "shipping_address": p.shipping_address,
            "total_amount": p.total_amount.to_string(),
            "currency": p.currency,
            "confirmation": confirmation_name(p.confirmation),
            "payment_method": p.payment_method,
        }),
        EventKind::Packed { warehouse } => json!({ "warehouse": warehouse }),
        EventKind::Shipped {
            carrier,
            tracking_number,
            estimated_delivery,
        } => json!({
            "carrier": carrier,
            "tracking_number": tracking_number,
            "estimated_delivery": estimated_delivery.and_then(to_date).map(|d| d.to_string()),
        }),
        EventKind::LocationUpdated { location } => json!({ "location": location }),
        EventKind::Delivered => json!({}),
        EventKind::Cancelled { reason } | EventKind::Rejected { reason } => {
            json!({ "reason": reason })
        }
        EventKind::Confirmed => json!({}),
    };
    if let Value::Object(map) = &mut data {
        if let Some(key) = &event.meta.idempotency_key {
            map.insert("idempotency_key".into(), json!(key));
        }
        if let Some(id) = &event.meta.correlation_id {
            map.insert("correlation_id".into(), json!(id));
        }
    }
    HistoryRow {
        order_id: event.order_id.clone(),
        version: event.version,
        event_type: event.kind.type_name(),
        event_id: event.meta.event_id,
        occurred_at: to_datetime(event.meta.occurred_at),
        data,
    }
}

/// A history row that does not read back as the event it was written from (a row edited
/// by hand, or written by a projector of another shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history row {version} of order {order_id} is unreadable: {reason}")]
pub struct UnreadableHistory {
    pub order_id: String,
    pub version: i64,
    pub reason: String,
}

impl HistoryEvent {
    /// The event this row of `order_id`'s history was written from.
    pub fn event(&self, order_id: &str) -> Result<Event, UnreadableHistory> {
        let unreadable = |reason: String| UnreadableHistory {
            order_id: order_id.to_owned(),
            version: self.version,
            reason,
        };
        let data = self
            .data
            .as_object()
            .ok_or_else(|| unreadable("data is not an object".into()))?;
        let kind = kind_of(&self.event_type, data).map_err(unreadable)?;
        let version = u64::try_from(self.version).map_err(|e| unreadable(e.to_string()))?;
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Event {
            order_id: order_id.to_owned(),
            version,
            meta: EventMeta {
                event_id: self.event_id,
                occurred_at: Timestamp(self.occurred_at.timestamp_millis()),
                idempotency_key: text("idempotency_key"),
                correlation_id: text("correlation_id"),
            },
            kind,
        })
    }
}

fn kind_of(event_type: &str, data: &Map<String, Value>) -> Result<EventKind, String> {
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{key} is missing"))
    };
    Ok(match event_type {
        "OrderPlaced" => EventKind::Placed(OrderPlaced {
            customer_id: text("customer_id")?,
            items: items(data.get("items"))?,
            shipping_address: text("shipping_address")?,
            currency: text("currency")?,
            total_amount: decimal(&text("total_amount")?)?,
            // Rows written before fulfilment existed have none: their orders needed none.
            confirmation: match data.get("confirmation").and_then(Value::as_str) {
                Some("required") => Confirmation::Required,
                _ => Confirmation::Implied,
            },
            payment_method: data
                .get("payment_method")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        "OrderPacked" => EventKind::Packed {
            warehouse: text("warehouse")?,
        },
        "OrderShipped" => EventKind::Shipped {
            carrier: text("carrier")?,
            tracking_number: text("tracking_number")?,
            estimated_delivery: match data.get("estimated_delivery") {
                None | Some(Value::Null) => None,
                Some(date) => Some(from_date(date.as_str().unwrap_or_default())?),
            },
        },
        "OrderLocationUpdated" => EventKind::LocationUpdated {
            location: text("location")?,
        },
        "OrderDelivered" => EventKind::Delivered,
        "OrderCancelled" => EventKind::Cancelled {
            reason: text("reason")?,
        },
        "OrderConfirmed" => EventKind::Confirmed,
        "OrderRejected" => EventKind::Rejected {
            reason: text("reason")?,
        },
        other => return Err(format!("unknown event type {other}")),
    })
}

fn confirmation_name(confirmation: Confirmation) -> &'static str {
    match confirmation {
        Confirmation::Implied => "implied",
        Confirmation::Required => "required",
    }
}

fn items(items: Option<&Value>) -> Result<Vec<LineItem>, String> {
    let items = items.and_then(Value::as_array).ok_or("items is missing")?;
    items
        .iter()
        .map(|item| {
            let field = |key: &str| item.get(key).ok_or(format!("an item's {key} is missing"));
            Ok(LineItem {
                product_id: field("product_id")?.as_str().unwrap_or_default().to_owned(),
                quantity: field("quantity")?
                    .as_u64()
                    .and_then(|q| u32::try_from(q).ok())
                    .ok_or("an item's quantity is not a count")?,
                unit_price: decimal(field("unit_price")?.as_str().unwrap_or_default())?,
            })
        })
        .collect()
}

fn decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text).map_err(|e| format!("{text:?} is not a decimal: {e}"))
}

/// Converts the domain's epoch milliseconds.
pub fn to_datetime(ts: Timestamp) -> DateTime<Utc> {
    // Out-of-range instants cannot come from the codec (Avro timestamp-millis fits).
    DateTime::from_timestamp_millis(ts.0).unwrap_or_default()
}

/// A domain date (days since 1970-01-01) as a calendar date.
fn to_date(date: Date) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_signed(TimeDelta::try_days(i64::from(date.0))?)
}

fn from_date(text: &str) -> Result<Date, String> {
    let date = NaiveDate::from_str(text).map_err(|e| format!("{text:?} is not a date: {e}"))?;
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).map(Date).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
