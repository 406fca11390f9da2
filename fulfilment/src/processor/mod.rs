//! The card processor: Stripe's PaymentIntents API ([`Stripe`]). Every call carries an
//! idempotency key made from the order id and the step, so a step repeated after a crash
//! or a timeout has one effect at the processor.
//!
//! - `stripe`: the HTTP calls and how their answers are read;
//! - `money`: amounts in the currency's smallest unit, as Stripe wants them.

mod money;
mod stripe;

pub use money::minor_units;
pub use stripe::{AuthorizeRequest, Stripe, StripeSettings};

/// What the processor said to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The amount is held on the card under this PaymentIntent.
    Approved { intent_id: String },
    /// The processor refused; the reason is for the customer.
    Declined { reason: String },
}

/// Why a call to the processor has no answer the saga can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// No answer, or one that says "later": a timeout, a connection refused, a 5xx, a 429,
    /// a 409 (the same idempotency key in use). Handling: retry with backoff; an
    /// authorization gives up at the saga's deadline and is compensated.
    #[error("the processor did not answer: {0}")]
    Unanswered(String),
    /// An answer that retrying will not change (the key is refused, the PaymentIntent is
    /// in another state). Handling: the saga's step stays next, stuck and visible, for an
    /// operator.
    #[error("the processor refused the call: {0}")]
    Refused(String),
}
