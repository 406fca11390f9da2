//! Running one step of a saga against the stock log, the processor, the payment log or the
//! command service. Every step is idempotent: a reservation or release of a line that is
//! already done is recognised by the stock aggregate, a processor call carries an
//! idempotency key made from the order and the step, a payment outcome that is already
//! recorded is recognised by the payment aggregate, and confirm/reject carry an
//! `Idempotency-Key` too.

use super::book::SagaOrder;
use super::plan::Step;
use crate::ledger::{Ledger, LedgerError};
use crate::orders::{self, OrderCommands};
use crate::processor::{Authorization, AuthorizeRequest, ProcessorError, Stripe, minor_units};
use orderflow_domain::inventory::{LineRef, Stock, StockCommand, StockError};
use orderflow_domain::payment::{Payment, PaymentChange, PaymentError};

/// What a step came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Its effect is in the logs: plan again.
    Done,
    /// The command service took the outcome; the saga moves on when the order log has it.
    AwaitLog,
    /// A line cannot be reserved; the reason is for the customer.
    Refusal(String),
    /// No effect; retry after a backoff. The text says why.
    Failed(String),
}

/// What the steps act on.
pub struct Steps {
    pub inventory: Ledger<Stock>,
    pub payments: Ledger<Payment>,
    pub stripe: Stripe,
    pub orders: OrderCommands,
}

impl Steps {
    /// Runs `step` for `saga`. `overdue`: the authorization's deadline has passed, so an
    /// authorization that gets no answer now is recorded as unanswered.
    pub async fn run(&self, saga: &SagaOrder, step: &Step, overdue: bool) -> StepOutcome {
        let id = saga.id();
        let correlation = Some(format!("saga:{id}"));
        match step {
            Step::Reserve(line) => self.reserve(saga, *line, correlation).await,
            Step::Release(line) | Step::Commit(line) => {
                let line_ref = LineRef {
                    order_id: id.to_owned(),
                    line: *line,
                };
                let product = &saga.items[*line as usize].product_id;
                let command = match step {
                    Step::Release(_) => StockCommand::Release { line: line_ref },
                    _ => StockCommand::Commit { line: line_ref },
                };
                match self.inventory.submit(product, command, correlation).await {
                    Ok(_) | Err(LedgerError::Refused(StockError::NotReserved)) => StepOutcome::Done,
                    Err(e) => StepOutcome::Failed(e.to_string()),
                }
            }
            Step::Request => self.record(id, PaymentChange::Requested).await,
            Step::Authorize | Step::Resolve => {
                self.authorize(saga, overdue && *step == Step::Authorize)
                    .await
            }
            Step::Capture | Step::Void | Step::Refund => self.settle(saga, step).await,
            Step::Confirm => told(self.orders.confirm(id).await),
            Step::Reject(reason) => told(self.orders.reject(id, &for_customer(reason)).await),
            Step::Wait | Step::Finished => StepOutcome::Done,
        }
    }

    async fn reserve(
        &self,
        saga: &SagaOrder,
        line: u32,
        correlation: Option<String>,
    ) -> StepOutcome {
        let item = &saga.items[line as usize];
        let command = StockCommand::Reserve {
            line: LineRef {
                order_id: saga.id().to_owned(),
                line,
            },
            quantity: item.quantity,
        };
        match self
            .inventory
            .submit(&item.product_id, command, correlation)
            .await
        {
            Ok(_) | Err(LedgerError::Refused(StockError::AlreadyReserved { .. })) => {
                StepOutcome::Done
            }
            Err(LedgerError::Refused(StockError::OutOfStock { available, .. })) => {
                StepOutcome::Refusal(format!(
                    "{} is out of stock ({} ordered, {available} available)",
                    item.product_id, item.quantity
                ))
            }
            Err(LedgerError::Refused(StockError::Invalid(_))) => {
                StepOutcome::Refusal(format!("{} is not a product we stock", item.product_id))
            }
            Err(e) => StepOutcome::Failed(e.to_string()),
        }
    }

    /// Asks for the authorization (again, under the same key, to resolve an unanswered
    /// one) and records the answer in the payment log.
    async fn authorize(&self, saga: &SagaOrder, give_up_if_unanswered: bool) -> StepOutcome {
        let id = saga.id();
        let request = AuthorizeRequest {
            order_id: id,
            amount: saga.total,
            currency: &saga.currency,
            payment_method: saga.payment_method.as_deref().unwrap_or_default(),
            idempotency_key: &key(id, "authorize"),
        };
        let change = match self.stripe.authorize(&request).await {
            Ok(Authorization::Approved { intent_id }) => PaymentChange::Authorized {
                intent_id,
                amount: saga.total,
                currency: saga.currency.clone(),
            },
            Ok(Authorization::Declined { reason }) => PaymentChange::Declined { reason },
            // Only silence gives up: a refused key waits, stuck and visible, to be fixed.
            Err(ProcessorError::Unanswered(_)) if give_up_if_unanswered => {
                PaymentChange::Unanswered
            }
            Err(e) => return StepOutcome::Failed(e.to_string()),
        };
        self.record(id, change).await
    }

    async fn settle(&self, saga: &SagaOrder, step: &Step) -> StepOutcome {
        let id = saga.id();
        let payment = self.payments.state(id);
        let Some(intent) = payment.intent_id.as_deref() else {
            return StepOutcome::Failed("the payment has no authorization to settle".into());
        };
        let Some(amount) = minor_units(saga.total, &saga.currency) else {
            return StepOutcome::Failed(format!(
                "{} {} cannot be charged",
                saga.total, saga.currency
            ));
        };
        let (called, change) = match step {
            Step::Capture => (
                self.stripe
                    .capture(intent, amount, &key(id, "capture"))
                    .await,
                PaymentChange::Captured { amount: saga.total },
            ),
            Step::Void => (
                self.stripe.void(intent, &key(id, "void")).await,
                PaymentChange::Voided,
            ),
            _ => (
                self.stripe.refund(intent, amount, &key(id, "refund")).await,
                PaymentChange::Refunded { amount: saga.total },
            ),
        };
        match called {
            Ok(()) => self.record(id, change).await,
            Err(ProcessorError::Unanswered(e) | ProcessorError::Refused(e)) => {
                StepOutcome::Failed(e)
            }
        }
    }

    async fn record(&self, order_id: &str, change: PaymentChange) -> StepOutcome {
        let correlation = Some(format!("saga:{order_id}"));
        match self.payments.submit(order_id, change, correlation).await {
            Ok(_) | Err(LedgerError::Refused(PaymentError::AlreadyRecorded(_))) => {
                StepOutcome::Done
            }
            Err(e) => StepOutcome::Failed(e.to_string()),
        }
    }
}

/// Longest reason the command service takes (the domain's long-text limit).
const MAX_REASON: usize = 500;

/// `reason` as the command service takes it: no control characters (a processor's
/// message may hold any), at most [`MAX_REASON`] characters.
fn for_customer(reason: &str) -> String {
    let clean: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect();
    match clean.trim() {
        "" => "the order could not be fulfilled".to_owned(),
        text => text.to_owned(),
    }
}

/// The processor's idempotency key of one step of one order's saga.
pub fn key(order_id: &str, step: &str) -> String {
    format!("orderflow-{order_id}-{step}")
}

fn told(answer: Result<orders::Answer, orders::OrdersError>) -> StepOutcome {
    match answer {
        Ok(orders::Answer::Done) => StepOutcome::AwaitLog,
        // The order moved on (cancelled meanwhile), or the outcome was refused: retried
        // after a backoff, planned again from the log, and stuck (visible) if it lasts.
        Ok(orders::Answer::Refused(why)) => {
            StepOutcome::Failed(format!("the command service refused it: {why}"))
        }
        Err(e) => StepOutcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::for_customer;

    #[test]
    fn a_reason_for_the_customer_has_no_control_characters_and_fits_the_limit() {
        assert_eq!(for_customer("declined\n(card)\u{7}"), "declined (card)");
        assert_eq!(for_customer(&"x".repeat(900)).chars().count(), 500);
        assert_eq!(for_customer("\n"), "the order could not be fulfilled");
    }
}
