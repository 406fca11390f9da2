//! What an event of the log notifies: one notice per accepted status change, under the
//! event's id, so a receiver that gets it twice (after a crash) can tell.

use orderflow_domain::{Event, EventKind, FoldOutcome, Order, Status, Timestamp, fold};
use uuid::Uuid;

/// What the notifier keeps of one order: the shared fold's state, and its customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    pub order: Order,
    /// Known from the order's placement.
    pub customer_id: Option<String>,
}

impl Tracked {
    pub fn new(order_id: &str) -> Tracked {
        Tracked {
            order: Order::new(order_id),
            customer_id: None,
        }
    }
}

/// One status change to tell the customer and the webhooks about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The event's id: the notice's id wherever it goes.
    pub id: Uuid,
    pub order_id: String,
    pub customer_id: String,
    pub status: Status,
    pub version: u64,
    pub occurred_at: Timestamp,
    /// What the status adds: the warehouse, carrier and tracking number, or the reason.
    pub details: Vec<(&'static str, String)>,
}

/// Folds `event` into `tracked` with the shared rule; the notice it makes, if it is an
/// accepted change of status (a location update changes none).
pub fn notice(tracked: &mut Tracked, event: &Event) -> Option<Notice> {
    let folded = fold(tracked.order.clone(), event);
    tracked.order = folded.order;
    if folded.outcome != FoldOutcome::Accepted {
        return None;
    }
    let details = match &event.kind {
        EventKind::Placed(placed) => {
            tracked.customer_id = Some(placed.customer_id.clone());
            vec![("total_amount", placed.total_amount.to_string())]
        }
        EventKind::Packed { warehouse } => vec![("warehouse", warehouse.clone())],
        EventKind::Shipped {
            carrier,
            tracking_number,
            ..
        } => vec![
            ("carrier", carrier.clone()),
            ("tracking_number", tracking_number.clone()),
        ],
        EventKind::LocationUpdated { .. } => return None,
        EventKind::Delivered => Vec::new(),
        EventKind::Cancelled { reason } | EventKind::Rejected { reason } => {
            vec![("reason", reason.clone())]
        }
        EventKind::Confirmed => Vec::new(),
    };
    Some(Notice {
        id: event.meta.event_id,
        order_id: event.order_id.clone(),
        customer_id: tracked.customer_id.clone()?,
        status: event.kind.resulting_status(),
        version: event.version,
        occurred_at: event.meta.occurred_at,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_domain::{Decimal, EventMeta, LineItem, OrderPlaced};

    fn event(version: u64, kind: EventKind) -> Event {
        Event {
            order_id: "o-1".into(),
            version,
            meta: EventMeta {
                event_id: Uuid::from_u128(u128::from(version)),
                occurred_at: Timestamp(1_767_225_600_000),
                idempotency_key: None,
                correlation_id: None,
            },
            kind,
        }
    }

    fn placed() -> Event {
        event(
            1,
            EventKind::Placed(OrderPlaced {
                customer_id: "c-1".into(),
                items: vec![LineItem {
                    product_id: "sku-1".into(),
                    quantity: 1,
                    unit_price: Decimal::new(999, 2),
                }],
                shipping_address: "1 Main St".into(),
                currency: "EUR".into(),
                total_amount: Decimal::new(999, 2),
                confirmation: orderflow_domain::Confirmation::Implied,
                payment_method: None,
            }),
        )
    }

    /// Given `history` folded, what `event` notifies.
    fn given_then(history: &[Event], event: &Event) -> Option<Notice> {
        let mut tracked = Tracked::new("o-1");
        for past in history {
            notice(&mut tracked, past);
        }
        notice(&mut tracked, event)
    }

    fn packed(version: u64) -> Event {
        event(
            version,
            EventKind::Packed {
                warehouse: "wh-1".into(),
            },
        )
    }

    #[test]
    fn a_placement_notifies_its_customer_under_the_events_id() {
        let notice = given_then(&[], &placed()).expect("a notice");
        assert_eq!(notice.id, Uuid::from_u128(1));
        assert_eq!(
            (notice.customer_id.as_str(), notice.status),
            ("c-1", Status::Placed)
        );
        assert_eq!(notice.details, [("total_amount", "9.99".to_owned())]);
    }

    #[test]
    fn each_accepted_status_change_notifies_with_what_it_adds() {
        let shipped = event(
            3,
            EventKind::Shipped {
                carrier: "UPS".into(),
                tracking_number: "1Z".into(),
                estimated_delivery: None,
            },
        );
        let notice = given_then(&[placed(), packed(2)], &shipped).expect("a notice");
        assert_eq!((notice.status, notice.version), (Status::Shipped, 3));
        assert_eq!(
            notice.details,
            [
                ("carrier", "UPS".to_owned()),
                ("tracking_number", "1Z".to_owned())
            ]
        );
    }

    #[test]
    fn events_the_fold_ignores_never_notify() {
        // A duplicate of version 2, and a delivery of an order that never shipped.
        assert_eq!(given_then(&[placed(), packed(2)], &packed(2)), None);
        assert_eq!(
            given_then(&[placed()], &event(2, EventKind::Delivered)),
            None
        );
        // A change of an order whose placement is not in the log.
        assert_eq!(given_then(&[], &packed(1)), None);
    }

    #[test]
    fn a_location_update_is_no_change_of_status() {
        let shipped = event(
            3,
            EventKind::Shipped {
                carrier: "UPS".into(),
                tracking_number: "1Z".into(),
                estimated_delivery: None,
            },
        );
        let moved = event(
            4,
            EventKind::LocationUpdated {
                location: "Hub".into(),
            },
        );
        assert_eq!(given_then(&[placed(), packed(2), shipped], &moved), None);
    }
}
