//! What a saga does next: a pure function of what the logs say about its order (status,
//! reservations, payment) and of what this process learnt and the log cannot say (why a
//! line could not be reserved). Every step it names is idempotent, so planning again after
//! a crash, from the logs alone, repeats at most a step that already had its effect, and
//! that step's second run changes nothing.
//!
//! ```text
//! pending ──reserve every line──► request, authorize ──► confirm ─► confirmed ─► packed ─► shipped
//!    │ out of stock, declined,          │                                          │
//!    │ or no answer in time             │                          commit lines, capture
//!    └──► release reserved lines, void what was authorized ──► reject ─► rejected
//! cancelled (from pending, confirmed or packed): release lines, void (or refund)
//! ```

use orderflow_domain::Status;
use orderflow_domain::payment::PaymentStatus;

/// What the plan looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub status: Status,
    /// Per line of the order: whether its units are reserved.
    pub reserved: &'a [bool],
    pub payment: Option<PaymentStatus>,
    pub decline_reason: Option<&'a str>,
    /// Why a line could not be reserved, as this process learnt it.
    pub refusal: Option<&'a str>,
    pub has_payment_method: bool,
}

/// The next step of a saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Reserve(u32),
    Release(u32),
    Commit(u32),
    /// Record in the payment log that the processor is about to be asked.
    Request,
    Authorize,
    /// Ask again, under the same key, for an authorization that got no answer, to learn
    /// whether it holds money that must be released.
    Resolve,
    Capture,
    Void,
    Refund,
    Confirm,
    Reject(String),
    /// Nothing to do until the order changes (confirmed, packed: waiting to ship).
    Wait,
    /// Nothing is left to do, ever.
    Finished,
}

impl Step {
    /// The step's name in metrics and in the read model.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Step::Reserve(_) => "reserve",
            Step::Release(_) => "release",
            Step::Commit(_) => "commit",
            Step::Request => "request",
            Step::Authorize => "authorize",
            Step::Resolve => "resolve",
            Step::Capture => "capture",
            Step::Void => "void",
            Step::Refund => "refund",
            Step::Confirm => "confirm",
            Step::Reject(_) => "reject",
            Step::Wait | Step::Finished => return None,
        })
    }
}

/// The next step for `facts`.
pub fn plan(facts: &Facts) -> Step {
    match facts.status {
        Status::Pending => pending(facts),
        Status::Confirmed | Status::Packed => Step::Wait,
        Status::Shipped | Status::Delivered => settle_shipped(facts),
        Status::Cancelled | Status::Rejected => undo(facts),
        // Placed without fulfilment: not a saga.
        Status::Placed => Step::Finished,
    }
}

fn pending(facts: &Facts) -> Step {
    if let Some(reason) = rejection(facts) {
        return match undo(facts) {
            Step::Finished => Step::Reject(reason),
            compensation => compensation,
        };
    }
    if let Some(line) = facts.reserved.iter().position(|r| !r) {
        return Step::Reserve(line as u32);
    }
    match facts.payment {
        None => Step::Request,
        Some(PaymentStatus::Requested) => Step::Authorize,
        Some(PaymentStatus::Authorized) => Step::Confirm,
        // Rejection covers the rest; a captured or voided payment of a pending order is
        // not a state the steps reach.
        Some(_) => Step::Wait,
    }
}

/// Why a pending order is to be rejected, if it is.
fn rejection(facts: &Facts) -> Option<String> {
    if let Some(PaymentStatus::Declined) = facts.payment {
        let said = facts.decline_reason.unwrap_or("no reason given");
        return Some(format!("the payment was declined ({said})"));
    }
    if let Some(PaymentStatus::Unanswered) = facts.payment {
        return Some("the payment could not be authorized in time; nothing was charged".into());
    }
    if let Some(refusal) = facts.refusal {
        return Some(refusal.to_owned());
    }
    if !facts.has_payment_method {
        return Some("the order has no payment method".into());
    }
    None
}

/// Shipped: the reserved units leave, the authorization is collected.
fn settle_shipped(facts: &Facts) -> Step {
    if let Some(line) = facts.reserved.iter().position(|r| *r) {
        return Step::Commit(line as u32);
    }
    match facts.payment {
        Some(PaymentStatus::Authorized) => Step::Capture,
        _ => finished_if_terminal(facts.status),
    }
}

/// Cancelled, rejected, or a pending order being rejected: give back what was taken.
fn undo(facts: &Facts) -> Step {
    if let Some(line) = facts.reserved.iter().position(|r| *r) {
        return Step::Release(line as u32);
    }
    match facts.payment {
        Some(PaymentStatus::Authorized) => Step::Void,
        Some(PaymentStatus::Captured) => Step::Refund,
        // An authorization asked for and never answered may hold money: learn, then void.
        Some(PaymentStatus::Requested | PaymentStatus::Unanswered)
            if facts.status != Status::Pending =>
        {
            Step::Resolve
        }
        _ => Step::Finished,
    }
}

fn finished_if_terminal(status: Status) -> Step {
    if status.is_terminal() {
        Step::Finished
    } else {
        Step::Wait
    }
}
