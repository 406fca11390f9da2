//! The plan as a table: facts in, the next step out.

use super::plan::{Facts, Step, plan};
use orderflow_domain::Status;
use orderflow_domain::payment::PaymentStatus as P;

fn facts(status: Status, reserved: &[bool], payment: Option<P>) -> Facts<'_> {
    Facts {
        status,
        reserved,
        payment,
        decline_reason: None,
        refusal: None,
        has_payment_method: true,
    }
}

#[test]
fn a_pending_order_reserves_each_line_then_authorizes_then_confirms() {
    let cases: [(&[bool], Option<P>, Step); 5] = [
        (&[false, false], None, Step::Reserve(0)),
        (&[true, false], None, Step::Reserve(1)),
        (&[true, true], None, Step::Request),
        (&[true, true], Some(P::Requested), Step::Authorize),
        (&[true, true], Some(P::Authorized), Step::Confirm),
    ];
    for (reserved, payment, step) in cases {
        assert_eq!(
            plan(&facts(Status::Pending, reserved, payment)),
            step,
            "{reserved:?} {payment:?}"
        );
    }
}

#[test]
fn a_line_out_of_stock_releases_what_was_reserved_then_rejects() {
    let mut f = facts(Status::Pending, &[true, false], None);
    f.refusal = Some("sku-2 is out of stock");
    assert_eq!(plan(&f), Step::Release(0));
    let mut f = facts(Status::Pending, &[false, false], None);
    f.refusal = Some("sku-2 is out of stock");
    assert_eq!(plan(&f), Step::Reject("sku-2 is out of stock".into()));
}

#[test]
fn a_declined_payment_releases_the_stock_and_says_why() {
    let mut f = facts(Status::Pending, &[true], Some(P::Declined));
    f.decline_reason = Some("insufficient_funds");
    assert_eq!(plan(&f), Step::Release(0));
    let mut f = facts(Status::Pending, &[false], Some(P::Declined));
    f.decline_reason = Some("insufficient_funds");
    assert_eq!(
        plan(&f),
        Step::Reject("the payment was declined (insufficient_funds)".into())
    );
}

#[test]
fn an_unanswered_authorization_is_compensated_and_resolved_after_the_rejection() {
    assert_eq!(
        plan(&facts(Status::Pending, &[true], Some(P::Unanswered))),
        Step::Release(0)
    );
    let step = plan(&facts(Status::Pending, &[false], Some(P::Unanswered)));
    assert!(matches!(step, Step::Reject(r) if r.contains("in time")));
    assert_eq!(
        plan(&facts(Status::Rejected, &[false], Some(P::Unanswered))),
        Step::Resolve
    );
    assert_eq!(
        plan(&facts(Status::Rejected, &[false], Some(P::Authorized))),
        Step::Void
    );
    assert_eq!(
        plan(&facts(Status::Rejected, &[false], Some(P::Voided))),
        Step::Finished
    );
}

#[test]
fn an_order_without_a_payment_method_is_rejected_after_nothing_was_taken() {
    let mut f = facts(Status::Pending, &[false], None);
    f.has_payment_method = false;
    assert_eq!(
        plan(&f),
        Step::Reject("the order has no payment method".into())
    );
}

#[test]
fn a_confirmed_or_packed_order_waits() {
    for status in [Status::Confirmed, Status::Packed] {
        assert_eq!(
            plan(&facts(status, &[true], Some(P::Authorized))),
            Step::Wait
        );
    }
}

#[test]
fn shipping_commits_every_line_then_captures() {
    let cases: [(Status, &[bool], Option<P>, Step); 4] = [
        (
            Status::Shipped,
            &[true, true],
            Some(P::Authorized),
            Step::Commit(0),
        ),
        (
            Status::Shipped,
            &[false, false],
            Some(P::Authorized),
            Step::Capture,
        ),
        (
            Status::Shipped,
            &[false, false],
            Some(P::Captured),
            Step::Wait,
        ),
        (
            Status::Delivered,
            &[false, false],
            Some(P::Captured),
            Step::Finished,
        ),
    ];
    for (status, reserved, payment, step) in cases {
        assert_eq!(
            plan(&facts(status, reserved, payment)),
            step,
            "{status} {reserved:?}"
        );
    }
}

#[test]
fn cancelling_releases_the_stock_and_voids_the_authorization() {
    let cases: [(&[bool], Option<P>, Step); 5] = [
        (&[true], Some(P::Authorized), Step::Release(0)),
        (&[false], Some(P::Authorized), Step::Void),
        (&[false], Some(P::Voided), Step::Finished),
        (&[false], None, Step::Finished),
        // Cancelled while the processor was being asked: learn whether money is held.
        (&[false], Some(P::Requested), Step::Resolve),
    ];
    for (reserved, payment, step) in cases {
        assert_eq!(
            plan(&facts(Status::Cancelled, reserved, payment)),
            step,
            "{payment:?}"
        );
    }
}

#[test]
fn an_order_placed_without_fulfilment_is_no_saga() {
    assert_eq!(plan(&facts(Status::Placed, &[false], None)), Step::Finished);
}
