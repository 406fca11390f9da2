//! Wire structs: the Avro records of the log, field for field, and their mapping to and
//! from `apache_avro::types::Value`.

use crate::catalog::EventType;
use fields::{Fields, item_value, money_value, nullable};

pub(crate) mod fields;
use crate::error::WireError;
use apache_avro::types::Value;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The fields every event record starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEnvelope {
    pub event_id: Uuid,
    pub order_id: String,
    pub version: i64,
    /// `timestamp-millis`.
    pub occurred_at: i64,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
}

/// One line of `OrderPlaced.items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireItem {
    pub product_id: String,
    pub quantity: i32,
    /// `decimal(12, 2)`.
    pub unit_price: Decimal,
}

/// The fields that follow the envelope, one variant per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireBody {
    OrderPlaced {
        customer_id: String,
        items: Vec<WireItem>,
        shipping_address: String,
        total_amount: Decimal,
        /// ISO 4217 (v2; "USD" when written with v1).
        currency: String,
        /// The `Confirmation` enum's symbol (v3; `IMPLIED` when written before).
        confirmation: String,
        /// v3; `None` when written before.
        payment_method: Option<String>,
    },
    OrderPacked {
        warehouse: String,
    },
    OrderShipped {
        carrier: String,
        tracking_number: String,
        /// Days since 1970-01-01 (v2; `None` in events written with v1).
        estimated_delivery: Option<i32>,
    },
    OrderLocationUpdated {
        location: String,
    },
    OrderDelivered,
    OrderCancelled {
        /// `cancel_reason` on the wire since v2 (`reason` in v1).
        reason: String,
    },
    OrderConfirmed,
    OrderRejected {
        reason: String,
    },
}

/// One event record as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEvent {
    pub envelope: WireEnvelope,
    pub body: WireBody,
}

impl WireBody {
    /// The record this body belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            WireBody::OrderPlaced { .. } => EventType::OrderPlaced,
            WireBody::OrderPacked { .. } => EventType::OrderPacked,
            WireBody::OrderShipped { .. } => EventType::OrderShipped,
            WireBody::OrderLocationUpdated { .. } => EventType::OrderLocationUpdated,
            WireBody::OrderDelivered => EventType::OrderDelivered,
            WireBody::OrderCancelled { .. } => EventType::OrderCancelled,
            WireBody::OrderConfirmed => EventType::OrderConfirmed,
            WireBody::OrderRejected { .. } => EventType::OrderRejected,
        }
    }
}

impl WireEvent {
    /// The Avro record value, in the field order of the schema.
    pub fn to_value(&self) -> Value {
        let e = &self.envelope;
        let mut fields = vec![
            ("event_id".to_owned(), Value::Uuid(e.event_id)),
            ("order_id".to_owned(), Value::String(e.order_id.clone())),
            ("version".to_owned(), Value::Long(e.version)),
            (
                "occurred_at".to_owned(),
                Value::TimestampMillis(e.occurred_at),
            ),
            ("idempotency_key".to_owned(), nullable(&e.idempotency_key)),
            ("correlation_id".to_owned(), nullable(&e.correlation_id)),
        ];
        let mut push = |name: &str, value: Value| fields.push((name.to_owned(), value));
        match &self.body {
            WireBody::OrderPlaced {
                customer_id,
                items,
                shipping_address,
                total_amount,
                currency,
                confirmation,
                payment_method,
            } => {
                push("customer_id", Value::String(customer_id.clone()));
                push(
                    "items",
                    Value::Array(items.iter().map(item_value).collect()),
                );
                push("shipping_address", Value::String(shipping_address.clone()));
                push("total_amount", money_value(*total_amount));
                push("currency", Value::String(currency.clone()));
                push("confirmation", confirmation_value(confirmation));
                push("payment_method", nullable(payment_method));
            }
            WireBody::OrderPacked { warehouse } => {
                push("warehouse", Value::String(warehouse.clone()))
            }
            WireBody::OrderShipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => {
                let eta = match estimated_delivery {
                    None => Value::Union(0, Box::new(Value::Null)),
                    Some(days) => Value::Union(1, Box::new(Value::Date(*days))),
                };
                push("carrier", Value::String(carrier.clone()));
                push("tracking_number", Value::String(tracking_number.clone()));
                push("estimated_delivery", eta);
            }
            WireBody::OrderLocationUpdated { location } => {
                push("location", Value::String(location.clone()))
            }
            WireBody::OrderDelivered => {}
            WireBody::OrderCancelled { reason } => {
                push("cancel_reason", Value::String(reason.clone()))
            }
            WireBody::OrderConfirmed => {}
            WireBody::OrderRejected { reason } => push("reason", Value::String(reason.clone())),
        }
        Value::Record(fields)
    }

    /// Reads a record of `event_type` that has already been resolved to the reader schema.
    pub fn from_value(event_type: EventType, value: Value) -> Result<WireEvent, WireError> {
        let Value::Record(fields) = value else {
            return Err(WireError::new("event", "is not a record"));
        };
        let mut r = Fields(fields);
        let envelope = WireEnvelope {
            event_id: r.uuid("event_id")?,
            order_id: r.string("order_id")?,
            version: r.long("version")?,
            occurred_at: r.timestamp("occurred_at")?,
            idempotency_key: r.nullable_string("idempotency_key")?,
            correlation_id: r.nullable_string("correlation_id")?,
        };
        let body = match event_type {
            EventType::OrderPlaced => WireBody::OrderPlaced {
                customer_id: r.string("customer_id")?,
                items: r.items("items")?,
                shipping_address: r.string("shipping_address")?,
                total_amount: r.money("total_amount")?,
                currency: r.string("currency")?,
                confirmation: r.symbol("confirmation")?,
                payment_method: r.nullable_string("payment_method")?,
            },
            EventType::OrderPacked => WireBody::OrderPacked {
                warehouse: r.string("warehouse")?,
            },
            EventType::OrderShipped => WireBody::OrderShipped {
                carrier: r.string("carrier")?,
                tracking_number: r.string("tracking_number")?,
                estimated_delivery: r.nullable_date("estimated_delivery")?,
            },
            EventType::OrderLocationUpdated => WireBody::OrderLocationUpdated {
                location: r.string("location")?,
            },
            EventType::OrderDelivered => WireBody::OrderDelivered,
            EventType::OrderCancelled => WireBody::OrderCancelled {
                reason: r.string("cancel_reason")?,
            },
            EventType::OrderConfirmed => WireBody::OrderConfirmed,
            EventType::OrderRejected => WireBody::OrderRejected {
                reason: r.string("reason")?,
            },
        };
        Ok(WireEvent { envelope, body })
    }
}

/// The symbols of `OrderPlaced.confirmation`, in schema order.
const CONFIRMATION_SYMBOLS: [&str; 2] = ["IMPLIED", "REQUIRED"];

fn confirmation_value(symbol: &str) -> Value {
    let index = CONFIRMATION_SYMBOLS.iter().position(|s| *s == symbol);
    // Written only from the domain's two values, so the symbol is always known.
    Value::Enum(index.unwrap_or(0) as u32, symbol.to_owned())
}
