//! The pure part of the fold: from a batch of records and the stored state (the
//! partitions' next offsets, the orders' fold state) to what the batch's transaction
//! writes. Records before a partition's stored offset were folded by an earlier batch (a
//! member that fetched from an older position, or from the start before its seek to the
//! stored offset) and are left out: the stored offsets, locked in the transaction, decide.

use crate::notice::{Notice, Tracked, notice};
use orderflow_domain::Event;
use std::collections::{BTreeMap, HashMap};

/// A record of the log, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub partition: i32,
    pub offset: i64,
    /// The event, or why the record is not one (poison: the projector dead-letters it).
    pub event: Result<Event, String>,
}

/// What one batch changes.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// The orders whose fold state changed, in their new state.
    pub orders: Vec<Tracked>,
    /// The notices, in log order.
    pub notices: Vec<Notice>,
    /// Each partition's next offset after the batch (only partitions that moved).
    pub next_offsets: BTreeMap<i32, i64>,
    pub counts: Counts,
}

/// How the batch's records were taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Accepted by the fold (whether or not they notify).
    pub accepted: u64,
    /// Ignored by the shared fold rule (version not current + 1, or a transition the
    /// lifecycle forbids).
    pub ignored: u64,
    /// Not an event (poison).
    pub unreadable: u64,
    /// Before the stored offset: folded by an earlier batch.
    pub already_folded: u64,
}

/// Folds `records` (in log order per partition) over `orders` (the stored state of the
/// orders they name; an order not in it is new), from the `stored` next offsets.
pub fn plan(
    stored: &HashMap<i32, i64>,
    mut orders: HashMap<String, Tracked>,
    records: &[Decoded],
) -> Plan {
    let mut plan = Plan::default();
    let mut changed: Vec<String> = Vec::new();
    for record in records {
        let from = stored.get(&record.partition).copied().unwrap_or(0);
        let floor = plan
            .next_offsets
            .get(&record.partition)
            .copied()
            .unwrap_or(from);
        if record.offset < floor {
            plan.counts.already_folded += 1;
            continue;
        }
        plan.next_offsets
            .insert(record.partition, record.offset + 1);
        let Ok(event) = &record.event else {
            plan.counts.unreadable += 1;
            continue;
        };
        let tracked = orders
            .entry(event.order_id.clone())
            .or_insert_with(|| Tracked::new(&event.order_id));
        let before = tracked.order.version;
        let notified = notice(tracked, event);
        if tracked.order.version == before {
            plan.counts.ignored += 1;
            continue;
        }
        plan.counts.accepted += 1;
        if !changed.contains(&event.order_id) {
            changed.push(event.order_id.clone());
        }
        plan.notices.extend(notified);
    }
    plan.orders = changed.iter().filter_map(|id| orders.remove(id)).collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_domain::{
        Decimal, EventKind, EventMeta, LineItem, OrderPlaced, Status, Timestamp,
    };
    use uuid::Uuid;

    fn event(order: &str, version: u64, kind: EventKind) -> Event {
        Event {
            order_id: order.into(),
            version,
            meta: EventMeta {
                event_id: Uuid::from_u128(u128::from(version) + 100 * order.len() as u128),
                occurred_at: Timestamp(1_767_225_600_000),
                idempotency_key: None,
                correlation_id: None,
            },
            kind,
        }
    }

    fn placed(order: &str) -> Event {
        event(
            order,
            1,
            EventKind::Placed(OrderPlaced {
                customer_id: "c-1".into(),
                items: vec![LineItem {
                    product_id: "p".into(),
                    quantity: 1,
                    unit_price: Decimal::new(100, 2),
                }],
                total_amount: Decimal::new(100, 2),
                shipping_address: "1 Road".into(),
                currency: "EUR".into(),
                confirmation: orderflow_domain::Confirmation::Implied,
                payment_method: None,
            }),
        )
    }

    fn packed(order: &str, version: u64) -> Event {
        event(
            order,
            version,
            EventKind::Packed {
                warehouse: "W1".into(),
            },
        )
    }

    fn at(partition: i32, offset: i64, event: Event) -> Decoded {
        Decoded {
            partition,
            offset,
            event: Ok(event),
        }
    }

    #[test]
    fn given_a_new_order_when_it_is_placed_and_packed_then_both_notify_and_the_offset_moves() {
        let records = [at(0, 10, placed("o-1")), at(0, 12, packed("o-1", 2))];
        let plan = plan(&HashMap::from([(0, 10)]), HashMap::new(), &records);
        let statuses: Vec<Status> = plan.notices.iter().map(|n| n.status).collect();
        assert_eq!(statuses, [Status::Placed, Status::Packed]);
        assert_eq!(plan.next_offsets, BTreeMap::from([(0, 13)]));
        assert_eq!(plan.orders.len(), 1);
        assert_eq!(plan.orders[0].order.version, 2);
        assert_eq!(plan.counts.accepted, 2);
    }

    #[test]
    fn records_before_the_stored_offset_were_folded_already_and_change_nothing() {
        let records = [at(0, 3, placed("o-1")), at(0, 4, packed("o-1", 2))];
        let plan = plan(&HashMap::from([(0, 5)]), HashMap::new(), &records);
        assert!(plan.notices.is_empty() && plan.orders.is_empty());
        assert!(plan.next_offsets.is_empty());
        assert_eq!(plan.counts.already_folded, 2);
    }

    #[test]
    fn a_record_seen_twice_in_one_batch_is_folded_once() {
        // A member that sought back to the stored offset gets records it already holds.
        let records = [at(1, 0, placed("o-1")), at(1, 0, placed("o-1"))];
        let plan = plan(&HashMap::new(), HashMap::new(), &records);
        assert_eq!(plan.notices.len(), 1);
        assert_eq!(plan.counts.already_folded, 1);
    }

    #[test]
    fn events_the_fold_ignores_never_notify_but_move_the_offset() {
        let mut tracked = Tracked::new("o-1");
        tracked.order.version = 1;
        tracked.order.status = Some(Status::Placed);
        tracked.customer_id = Some("c-1".into());
        let records = [
            at(0, 7, packed("o-1", 3)),                      // a version gap
            at(0, 8, placed("o-1")),                         // version 1 again
            at(0, 9, event("o-1", 2, EventKind::Delivered)), // not from placed
        ];
        let plan = plan(
            &HashMap::new(),
            HashMap::from([("o-1".into(), tracked)]),
            &records,
        );
        assert!(plan.notices.is_empty() && plan.orders.is_empty());
        assert_eq!(plan.counts.ignored, 3);
        assert_eq!(plan.next_offsets, BTreeMap::from([(0, 10)]));
    }

    #[test]
    fn a_record_that_is_not_an_event_is_counted_and_passed() {
        let records = [
            Decoded {
                partition: 2,
                offset: 0,
                event: Err("not Avro".into()),
            },
            at(2, 1, placed("o-9")),
        ];
        let plan = plan(&HashMap::new(), HashMap::new(), &records);
        assert_eq!(plan.counts.unreadable, 1);
        assert_eq!(plan.notices.len(), 1);
        assert_eq!(plan.next_offsets, BTreeMap::from([(2, 2)]));
    }
}
