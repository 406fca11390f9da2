//! Facts about an order, as appended to the log. The wire encoding lives in the `schemas`
//! crate; these are the domain's own types.

use crate::command::CommandKind;
use crate::status::Status;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Milliseconds since the Unix epoch (UTC), as carried by Avro's `timestamp-millis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A calendar date, as days since 1970-01-01 (Avro's `date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

/// What every event carries besides its content. Supplied by the caller of
/// [`crate::decide`], because the domain has no clock and makes no ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    pub event_id: Uuid,
    pub occurred_at: Timestamp,
    /// The request's `Idempotency-Key`, kept in the log so retries are recognised after a
    /// restart. The command service writes it scoped to the caller (a SHA-256 of the
    /// caller and the client's key, hex), so it is opaque here.
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
}

/// One fact about one order: the change, the order it belongs to, and the aggregate
/// version it produces (1 for `OrderPlaced`, then +1 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub order_id: String,
    pub version: u64,
    pub meta: EventMeta,
    pub kind: EventKind,
}

/// The content of an event, one variant per event type on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Placed(OrderPlaced),
    Packed {
        warehouse: String,
    },
    Shipped {
        carrier: String,
        tracking_number: String,
        /// When the carrier expects to deliver, if it said (added in `OrderShipped` v2).
        estimated_delivery: Option<Date>,
    },
    LocationUpdated {
        location: String,
    },
    Delivered,
    Cancelled {
        reason: String,
    },
    /// The fulfilment process manager reserved every line and authorized the payment.
    Confirmed,
    /// The fulfilment process manager could not reserve the stock or authorize the
    /// payment, and has undone what it had done. `reason` is for the customer.
    Rejected {
        reason: String,
    },
}

/// Whether an order waits for fulfilment (stock and payment) before it may be packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Confirmation {
    /// Accepted as placed: every `OrderPlaced` written before fulfilment existed (v1, v2)
    /// and every placement while the command service runs without fulfilment. The order
    /// starts `placed` and may be packed at once.
    #[default]
    Implied,
    /// The fulfilment process manager confirms or rejects it: the order starts `pending`.
    Required,
}

/// The content of `OrderPlaced`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced {
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub shipping_address: String,
    /// ISO 4217 code of every amount in the order (v2; "USD" for events written with v1).
    pub currency: String,
    /// Sum of quantity × unit price over the items, computed by the domain, scale 2.
    pub total_amount: Decimal,
    /// Whether the order waits for fulfilment (v3; `Implied` for events written before).
    pub confirmation: Confirmation,
    /// The card processor's id of the customer's payment method (Stripe: `pm_…`, from
    /// Stripe.js), which fulfilment authorizes (v3; none before).
    pub payment_method: Option<String>,
}

/// One line of an order. `unit_price` has at most two decimal places.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineItem {
    pub product_id: String,
    pub quantity: u32,
    pub unit_price: Decimal,
}

impl EventKind {
    /// The command kind that produces this event kind.
    pub fn command_kind(&self) -> CommandKind {
        match self {
            EventKind::Placed(_) => CommandKind::Place,
            EventKind::Packed { .. } => CommandKind::Pack,
            EventKind::Shipped { .. } => CommandKind::Ship,
            EventKind::LocationUpdated { .. } => CommandKind::UpdateLocation,
            EventKind::Delivered => CommandKind::Deliver,
            EventKind::Cancelled { .. } => CommandKind::Cancel,
            EventKind::Confirmed => CommandKind::Confirm,
            EventKind::Rejected { .. } => CommandKind::Reject,
        }
    }

    /// The event type's name (`"OrderPlaced"`, ...), as used for Avro record names.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Placed(_) => "OrderPlaced",
            EventKind::Packed { .. } => "OrderPacked",
            EventKind::Shipped { .. } => "OrderShipped",
            EventKind::LocationUpdated { .. } => "OrderLocationUpdated",
            EventKind::Delivered => "OrderDelivered",
            EventKind::Cancelled { .. } => "OrderCancelled",
            EventKind::Confirmed => "OrderConfirmed",
            EventKind::Rejected { .. } => "OrderRejected",
        }
    }

    /// The status an order has right after this event.
    pub fn resulting_status(&self) -> Status {
        match self {
            EventKind::Placed(p) => match p.confirmation {
                Confirmation::Implied => Status::Placed,
                Confirmation::Required => Status::Pending,
            },
            EventKind::Packed { .. } => Status::Packed,
            EventKind::Shipped { .. } | EventKind::LocationUpdated { .. } => Status::Shipped,
            EventKind::Delivered => Status::Delivered,
            EventKind::Cancelled { .. } => Status::Cancelled,
            EventKind::Confirmed => Status::Confirmed,
            EventKind::Rejected { .. } => Status::Rejected,
        }
    }
}
