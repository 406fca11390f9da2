//! `decide_payment` and the payment fold.

use super::{Payment, PaymentChange, PaymentError, PaymentEvent, PaymentStatus};
use crate::EventMeta;
use crate::ledger::{LedgerOutcome, version_conflict};

/// Whether a payment in `from` may take `change`.
fn allowed(from: Option<PaymentStatus>, change: &PaymentChange) -> bool {
    use PaymentStatus as S;
    matches!(
        (from, change.status()),
        (None, S::Requested)
            | (
                Some(S::Requested),
                S::Authorized | S::Declined | S::Unanswered
            )
            | (Some(S::Unanswered), S::Authorized | S::Declined)
            | (Some(S::Authorized), S::Captured | S::Voided)
            | (Some(S::Captured), S::Refunded)
    )
}

/// Decides whether `change` is recorded: one event at `payment.version + 1`, or why not.
pub fn decide_payment(
    payment: &Payment,
    change: PaymentChange,
    meta: EventMeta,
) -> Result<PaymentEvent, PaymentError> {
    if payment.status == Some(change.status()) {
        return Err(PaymentError::AlreadyRecorded(change.status()));
    }
    if !allowed(payment.status, &change) {
        return Err(PaymentError::NotAllowed {
            from: payment.status,
            to: change.status(),
        });
    }
    Ok(PaymentEvent {
        order_id: payment.order_id.clone(),
        version: payment.version + 1,
        meta,
        change,
    })
}

/// The fold rule for payments.
pub fn fold_payment(mut payment: Payment, event: &PaymentEvent) -> (Payment, LedgerOutcome) {
    if let Some((current, got)) = version_conflict(payment.version, event.version) {
        return (payment, LedgerOutcome::VersionConflict { current, got });
    }
    if !allowed(payment.status, &event.change) {
        return (payment, LedgerOutcome::NotAllowed);
    }
    match &event.change {
        PaymentChange::Authorized { intent_id, .. } => payment.intent_id = Some(intent_id.clone()),
        PaymentChange::Declined { reason } => payment.decline_reason = Some(reason.clone()),
        _ => {}
    }
    payment.status = Some(event.change.status());
    payment.version = event.version;
    (payment, LedgerOutcome::Accepted)
}
