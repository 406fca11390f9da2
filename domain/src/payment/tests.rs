//! The payment's table of allowed changes, and the fold rule on it.

use super::*;
use crate::ledger::LedgerOutcome;
use crate::{EventMeta, Timestamp};
use uuid::Uuid;

fn meta() -> EventMeta {
    EventMeta {
        event_id: Uuid::from_u128(7),
        occurred_at: Timestamp(1_700_000_000_000),
        idempotency_key: None,
        correlation_id: None,
    }
}

fn authorized() -> PaymentChange {
    PaymentChange::Authorized {
        intent_id: "pi_1".into(),
        amount: "10.00".parse().unwrap(),
        currency: "EUR".into(),
    }
}

fn given(history: &[PaymentChange]) -> Payment {
    history.iter().fold(Payment::new("o-1"), |payment, change| {
        let event = decide_payment(&payment, change.clone(), meta()).expect("bad history");
        let (payment, outcome) = fold_payment(payment, &event);
        assert_eq!(outcome, LedgerOutcome::Accepted);
        payment
    })
}

#[test]
fn an_authorization_is_captured_then_refunded_and_keeps_its_intent() {
    let amount = "10.00".parse().unwrap();
    let payment = given(&[
        PaymentChange::Requested,
        authorized(),
        PaymentChange::Captured { amount },
        PaymentChange::Refunded { amount },
    ]);
    assert_eq!(payment.status, Some(PaymentStatus::Refunded));
    assert_eq!(payment.intent_id.as_deref(), Some("pi_1"));
    assert_eq!(payment.version, 4);
}

#[test]
fn an_unanswered_authorization_learns_its_outcome_later() {
    let payment = given(&[
        PaymentChange::Requested,
        PaymentChange::Unanswered,
        authorized(),
        PaymentChange::Voided,
    ]);
    assert_eq!(payment.status, Some(PaymentStatus::Voided));
}

#[test]
fn an_authorization_is_requested_before_the_processor_answers() {
    let refused = decide_payment(&Payment::new("o-1"), authorized(), meta());
    assert!(matches!(
        refused,
        Err(PaymentError::NotAllowed { from: None, .. })
    ));
}

#[test]
fn recording_the_same_outcome_twice_is_recognised() {
    let payment = given(&[PaymentChange::Requested, authorized()]);
    assert_eq!(
        decide_payment(&payment, authorized(), meta()),
        Err(PaymentError::AlreadyRecorded(PaymentStatus::Authorized))
    );
}

#[test]
fn a_capture_needs_an_authorization_and_a_void_is_final() {
    let amount = "1.00".parse().unwrap();
    let refused = decide_payment(
        &Payment::new("o-1"),
        PaymentChange::Captured { amount },
        meta(),
    );
    assert_eq!(
        refused,
        Err(PaymentError::NotAllowed {
            from: None,
            to: PaymentStatus::Captured
        })
    );
    let voided = given(&[
        PaymentChange::Requested,
        authorized(),
        PaymentChange::Voided,
    ]);
    let refused = decide_payment(&voided, PaymentChange::Captured { amount }, meta());
    assert!(matches!(refused, Err(PaymentError::NotAllowed { .. })));
}

#[test]
fn the_fold_ignores_a_change_out_of_order_and_a_duplicate_version() {
    let event = |version, change| PaymentEvent {
        order_id: "o-1".into(),
        version,
        meta: meta(),
        change,
    };
    let (payment, outcome) = fold_payment(Payment::new("o-1"), &event(1, PaymentChange::Voided));
    assert_eq!(outcome, LedgerOutcome::NotAllowed);
    let (payment, _) = fold_payment(payment, &event(1, PaymentChange::Requested));
    let (payment, outcome) = fold_payment(payment, &event(1, authorized()));
    assert_eq!(
        outcome,
        LedgerOutcome::VersionConflict { current: 1, got: 1 }
    );
    assert_eq!(payment.status, Some(PaymentStatus::Requested));
}
