//! The fold rule: the log decides, even after duplicate or conflicting appends.

use crate::test_framework::{event, meta};
use crate::{Event, EventKind, FoldOutcome, Order, Status, fold};

fn packed(warehouse: &str) -> EventKind {
    EventKind::Packed {
        warehouse: warehouse.into(),
    }
}

fn placed_event() -> Event {
    let place = crate::Command::Place(crate::PlaceOrder {
        customer_id: "c".into(),
        items: vec![crate::LineItem {
            product_id: "p".into(),
            quantity: 1,
            unit_price: 1.into(),
        }],
        shipping_address: "a".into(),
        currency: "USD".into(),
        confirmation: crate::Confirmation::Implied,
        payment_method: None,
    });
    crate::decide(&Order::new(crate::test_framework::ORDER), &place, meta(1)).unwrap()
}

fn fold_all(events: &[Event]) -> (Order, Vec<FoldOutcome>) {
    let mut order = Order::new(crate::test_framework::ORDER);
    let mut outcomes = Vec::new();
    for e in events {
        let folded = fold(order, e);
        order = folded.order;
        outcomes.push(folded.outcome);
    }
    (order, outcomes)
}

#[test]
fn events_in_version_order_are_all_accepted() {
    let (order, outcomes) = fold_all(&[placed_event(), event(2, packed("a"))]);
    assert_eq!(outcomes, [FoldOutcome::Accepted, FoldOutcome::Accepted]);
    assert_eq!((order.status, order.version), (Some(Status::Packed), 2));
}

#[test]
fn a_duplicate_event_is_ignored_and_reported() {
    let (order, outcomes) =
        fold_all(&[placed_event(), event(2, packed("a")), event(2, packed("a"))]);
    assert_eq!(
        outcomes[2],
        FoldOutcome::VersionConflict { current: 2, got: 2 }
    );
    assert_eq!(order.version, 2);
}

#[test]
fn the_first_of_two_conflicting_appends_wins() {
    let first = event(2, packed("first"));
    let second = event(
        2,
        EventKind::Cancelled {
            reason: "second".into(),
        },
    );
    let (order, outcomes) = fold_all(&[placed_event(), first, second]);
    assert_eq!(order.status, Some(Status::Packed));
    assert_eq!(
        outcomes[2],
        FoldOutcome::VersionConflict { current: 2, got: 2 }
    );
}

#[test]
fn an_event_that_skips_a_version_is_ignored() {
    let (order, outcomes) = fold_all(&[placed_event(), event(3, packed("a"))]);
    assert_eq!(
        outcomes[1],
        FoldOutcome::VersionConflict { current: 1, got: 3 }
    );
    assert_eq!(order.status, Some(Status::Placed));
}

#[test]
fn an_event_the_lifecycle_forbids_is_ignored_as_not_allowed() {
    let (order, outcomes) = fold_all(&[placed_event(), event(2, EventKind::Delivered)]);
    assert_eq!(
        outcomes[1],
        FoldOutcome::TransitionNotAllowed {
            from: Some(Status::Placed)
        }
    );
    assert_eq!(order.version, 1);
}

#[test]
fn an_event_for_an_order_never_placed_is_not_allowed() {
    let (order, outcomes) = fold_all(&[event(1, packed("a"))]);
    assert_eq!(
        outcomes[0],
        FoldOutcome::TransitionNotAllowed { from: None }
    );
    assert_eq!(order.status, None);
}
