//! A payment: one event-sourced aggregate per order, on `payments.events` keyed by order
//! id. It records what the card processor answered, so the fulfilment process manager's
//! state survives a restart and each processor call is made for a reason the log shows.
//!
//! ```text
//!                        ┌──────────► Declined
//!  (none) ─► Requested ──┼──────────► Authorized ──► Captured ──► Refunded
//!                        └─► Unanswered ──┘   └────► Voided
//!                                 └────────────────► Declined
//! ```
//!
//! `Requested` is recorded before the processor is first asked, so a crash or a
//! cancellation while the call is out still knows money may be held. `Unanswered` is an
//! authorization the processor never answered in time (timeouts, 5xx): the order is
//! rejected, and the authorization is asked again later, under the same idempotency key,
//! only to learn its outcome and void it.

mod decide;
#[cfg(test)]
mod tests;

pub use decide::{decide_payment, fold_payment};

use crate::EventMeta;
use rust_decimal::Decimal;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Requested,
    Authorized,
    Declined,
    Unanswered,
    Captured,
    Voided,
    Refunded,
}

impl PaymentStatus {
    /// The lower-case name used on the wire and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Requested => "requested",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Unanswered => "unanswered",
            PaymentStatus::Captured => "captured",
            PaymentStatus::Voided => "voided",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

/// The state of one order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: String,
    pub version: u64,
    /// `None` until the processor was first asked and answered (or did not).
    pub status: Option<PaymentStatus>,
    /// The processor's id of the authorization (Stripe: the PaymentIntent id).
    pub intent_id: Option<String>,
    /// What the processor said when it declined, for the rejection's reason.
    pub decline_reason: Option<String>,
}

impl Payment {
    /// An order nothing was paid for.
    pub fn new(order_id: impl Into<String>) -> Payment {
        Payment {
            order_id: order_id.into(),
            version: 0,
            status: None,
            intent_id: None,
            decline_reason: None,
        }
    }
}

/// What the processor answered: the command to record it and the event's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// The processor is about to be asked for an authorization.
    Requested,
    Authorized {
        intent_id: String,
        amount: Decimal,
        currency: String,
    },
    Declined {
        reason: String,
    },
    Unanswered,
    Captured {
        amount: Decimal,
    },
    Voided,
    Refunded {
        amount: Decimal,
    },
}

impl PaymentChange {
    /// The status a payment has after this change.
    pub fn status(&self) -> PaymentStatus {
        match self {
            PaymentChange::Requested => PaymentStatus::Requested,
            PaymentChange::Authorized { .. } => PaymentStatus::Authorized,
            PaymentChange::Declined { .. } => PaymentStatus::Declined,
            PaymentChange::Unanswered => PaymentStatus::Unanswered,
            PaymentChange::Captured { .. } => PaymentStatus::Captured,
            PaymentChange::Voided => PaymentStatus::Voided,
            PaymentChange::Refunded { .. } => PaymentStatus::Refunded,
        }
    }
}

/// One fact about one order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub order_id: String,
    pub version: u64,
    pub meta: EventMeta,
    pub change: PaymentChange,
}

/// Why [`decide_payment`] refused to record a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The payment is already where the change leads. Handling: a repeated step after a
    /// crash; the record exists, which is what was asked.
    #[error("the payment is already {}", .0.as_str())]
    AlreadyRecorded(PaymentStatus),
    /// The change does not follow from where the payment stands. Handling: a bug in the
    /// caller's plan; logged, nothing appended.
    #[error("a payment that is {} cannot become {}", from.map_or("new", |s| s.as_str()), to.as_str())]
    NotAllowed {
        from: Option<PaymentStatus>,
        to: PaymentStatus,
    },
}
