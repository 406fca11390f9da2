//! Wire ⇄ domain. Domain → wire cannot fail; wire → domain checks what Avro cannot.

use crate::error::WireError;
use crate::wire::{WireBody, WireEnvelope, WireEvent, WireItem};
use orderflow_domain::{
    Confirmation, Date, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp, limits,
    validate_order_id, violations,
};

impl From<&Event> for WireEvent {
    fn from(event: &Event) -> Self {
        let envelope = WireEnvelope {
            event_id: event.meta.event_id,
            order_id: event.order_id.clone(),
            // Versions are counts of events of one order; they never approach i64::MAX.
            version: event.version as i64,
            occurred_at: event.meta.occurred_at.0,
            idempotency_key: event.meta.idempotency_key.clone(),
            correlation_id: event.meta.correlation_id.clone(),
        };
        let body = match &event.kind {
            EventKind::Placed(p) => WireBody::OrderPlaced {
                customer_id: p.customer_id.clone(),
                items: p.items.iter().map(WireItem::from).collect(),
                shipping_address: p.shipping_address.clone(),
                total_amount: p.total_amount,
                currency: p.currency.clone(),
                confirmation: match p.confirmation {
                    Confirmation::Implied => "IMPLIED",
                    Confirmation::Required => "REQUIRED",
                }
                .to_owned(),
                payment_method: p.payment_method.clone(),
            },
            EventKind::Packed { warehouse } => WireBody::OrderPacked {
                warehouse: warehouse.clone(),
            },
            EventKind::Shipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => WireBody::OrderShipped {
                carrier: carrier.clone(),
                tracking_number: tracking_number.clone(),
                estimated_delivery: estimated_delivery.map(|d| d.0),
            },
            EventKind::LocationUpdated { location } => WireBody::OrderLocationUpdated {
                location: location.clone(),
            },
            EventKind::Delivered => WireBody::OrderDelivered,
            EventKind::Cancelled { reason } => WireBody::OrderCancelled {
                reason: reason.clone(),
            },
            EventKind::Confirmed => WireBody::OrderConfirmed,
            EventKind::Rejected { reason } => WireBody::OrderRejected {
                reason: reason.clone(),
            },
        };
        WireEvent { envelope, body }
    }
}

impl From<&LineItem> for WireItem {
    fn from(item: &LineItem) -> Self {
        WireItem {
            product_id: item.product_id.clone(),
            // The domain caps quantities at 10,000.
            quantity: item.quantity as i32,
            unit_price: item.unit_price,
        }
    }
}

impl TryFrom<WireItem> for LineItem {
    type Error = WireError;

    fn try_from(item: WireItem) -> Result<Self, Self::Error> {
        let quantity = u32::try_from(item.quantity)
            .map_err(|_| WireError::new("quantity", format!("is negative: {}", item.quantity)))?;
        Ok(LineItem {
            product_id: item.product_id,
            quantity,
            unit_price: item.unit_price,
        })
    }
}

impl TryFrom<WireEvent> for Event {
    type Error = WireError;

    fn try_from(wire: WireEvent) -> Result<Self, Self::Error> {
        let WireEvent { envelope: e, body } = wire;
        let version = u64::try_from(e.version)
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                WireError::new("version", format!("must be at least 1, got {}", e.version))
            })?;
        let kind = match body {
            WireBody::OrderPlaced {
                customer_id,
                items,
                shipping_address,
                total_amount,
                currency,
                confirmation,
                payment_method,
            } => EventKind::Placed(OrderPlaced {
                payment_method,
                currency,
                // The enum's default (IMPLIED) stands for any symbol this reader does not know.
                confirmation: match confirmation.as_str() {
                    "REQUIRED" => Confirmation::Required,
                    _ => Confirmation::Implied,
                },
                customer_id,
                items: items
                    .into_iter()
                    .map(LineItem::try_from)
                    .collect::<Result<_, _>>()?,
                shipping_address,
                total_amount,
            }),
            WireBody::OrderPacked { warehouse } => EventKind::Packed { warehouse },
            WireBody::OrderShipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => EventKind::Shipped {
                carrier,
                tracking_number,
                estimated_delivery: estimated_delivery.map(Date),
            },
            WireBody::OrderLocationUpdated { location } => EventKind::LocationUpdated { location },
            WireBody::OrderDelivered => EventKind::Delivered,
            WireBody::OrderCancelled { reason } => EventKind::Cancelled { reason },
            WireBody::OrderConfirmed => EventKind::Confirmed,
            WireBody::OrderRejected { reason } => EventKind::Rejected { reason },
        };
        check_content(&e.order_id, e.occurred_at, &kind)?;
        Ok(Event {
            order_id: e.order_id,
            version,
            meta: EventMeta {
                event_id: e.event_id,
                occurred_at: Timestamp(e.occurred_at),
                idempotency_key: e.idempotency_key,
                correlation_id: e.correlation_id,
            },
            kind,
        })
    }
}

/// Latest accepted `occurred_at`: the end of year 9999 UTC, which every store can hold.
const MAX_OCCURRED_AT: i64 = 253_402_300_799_999;

/// What Avro cannot check but every reader relies on: the domain's own limits (so no
/// amount can overflow a read model, no string carries control characters) and a sane
/// time. An event that breaks them was not written by `decide`, and readers treat it as
/// poison.
fn check_content(order_id: &str, occurred_at: i64, kind: &EventKind) -> Result<(), WireError> {
    validate_order_id(order_id).map_err(|v| WireError::new("order_id", v.message))?;
    if !(0..=MAX_OCCURRED_AT).contains(&occurred_at) {
        return Err(WireError::new(
            "occurred_at",
            format!("is out of range: {occurred_at}"),
        ));
    }
    if let Some(v) = violations(&kind.to_command()).into_iter().next() {
        return Err(WireError::new(v.field, v.message));
    }
    if let EventKind::Placed(p) = kind
        && (p.total_amount.is_sign_negative() || p.total_amount > limits::MAX_AMOUNT)
    {
        return Err(WireError::new(
            "total_amount",
            format!("is out of range: {}", p.total_amount),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
