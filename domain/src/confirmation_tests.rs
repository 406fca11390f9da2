//! The fulfilment part of the lifecycle, given/when/then: an order placed with
//! `Confirmation::Required` waits, `pending`, until fulfilment confirms or rejects it, and
//! only a confirmed one is packed. Orders placed with `Implied` keep the old lifecycle
//! (`lifecycle_tests`).

use crate::test_framework::given;
use crate::{Command, CommandKind, Confirmation, DomainError, EventKind, LineItem, OrderPlaced};
use crate::{PlaceOrder, Status};

fn item() -> LineItem {
    LineItem {
        product_id: "sku-1".into(),
        quantity: 2,
        unit_price: "5.00".parse().unwrap(),
    }
}

fn place(confirmation: Confirmation) -> Command {
    Command::Place(PlaceOrder {
        customer_id: "cust-1".into(),
        items: vec![item()],
        shipping_address: "1 Main St".into(),
        currency: "EUR".into(),
        confirmation,
        payment_method: Some("pm_card_visa".into()),
    })
}

fn placed(confirmation: Confirmation) -> EventKind {
    EventKind::Placed(OrderPlaced {
        customer_id: "cust-1".into(),
        items: vec![item()],
        shipping_address: "1 Main St".into(),
        currency: "EUR".into(),
        total_amount: "10.00".parse().unwrap(),
        confirmation,
        payment_method: Some("pm_card_visa".into()),
    })
}

fn pack() -> Command {
    Command::Pack {
        warehouse: "ams-1".into(),
    }
}

fn rejected() -> EventKind {
    EventKind::Rejected {
        reason: "sku-1 is out of stock".into(),
    }
}

fn not_allowed(from: Status, command: CommandKind) -> DomainError {
    DomainError::TransitionNotAllowed { from, command }
}

#[test]
fn a_placement_that_requires_confirmation_starts_pending() {
    let event = given(&[])
        .when(place(Confirmation::Required))
        .then_expect(placed(Confirmation::Required));
    assert_eq!(event.kind.resulting_status(), Status::Pending);
    assert_eq!(
        placed(Confirmation::Implied).resulting_status(),
        Status::Placed
    );
}

#[test]
fn packing_a_pending_order_is_refused() {
    given(&[placed(Confirmation::Required)])
        .when(pack())
        .then_expect_error(not_allowed(Status::Pending, CommandKind::Pack));
}

#[test]
fn a_confirmed_order_is_packed() {
    given(&[placed(Confirmation::Required), EventKind::Confirmed])
        .when(pack())
        .then_expect(EventKind::Packed {
            warehouse: "ams-1".into(),
        });
}

#[test]
fn a_pending_order_is_rejected_with_its_reason_and_that_is_final() {
    given(&[placed(Confirmation::Required)])
        .when(Command::Reject {
            reason: "sku-1 is out of stock".into(),
        })
        .then_expect(rejected());
    given(&[placed(Confirmation::Required), rejected()])
        .when(Command::Confirm)
        .then_expect_error(not_allowed(Status::Rejected, CommandKind::Confirm));
}

#[test]
fn an_order_placed_without_fulfilment_is_never_confirmed() {
    given(&[placed(Confirmation::Implied)])
        .when(Command::Confirm)
        .then_expect_error(not_allowed(Status::Placed, CommandKind::Confirm));
}

#[test]
fn a_confirmed_or_pending_order_may_be_cancelled() {
    let cancel = || Command::Cancel {
        reason: "changed mind".into(),
    };
    let reason = || EventKind::Cancelled {
        reason: "changed mind".into(),
    };
    given(&[placed(Confirmation::Required)])
        .when(cancel())
        .then_expect(reason());
    given(&[placed(Confirmation::Required), EventKind::Confirmed])
        .when(cancel())
        .then_expect(reason());
}

#[test]
fn a_rejection_needs_a_reason() {
    let error = given(&[placed(Confirmation::Required)])
        .when(Command::Reject { reason: "".into() })
        .error();
    assert!(matches!(error, DomainError::Invalid(v) if v[0].field == "reason"));
}
