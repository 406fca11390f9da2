//! What a [`super::Ledger`] needs of an aggregate: its pure decide and fold, and the key
//! and id of its events. Implemented for the domain's stock and payment.

use orderflow_domain::inventory::{Stock, StockChange, StockCommand, StockError, StockEvent};
use orderflow_domain::inventory::{check_stock_command, decide_stock, fold_stock};
use orderflow_domain::payment::{Payment, PaymentChange, PaymentError, PaymentEvent};
use orderflow_domain::payment::{decide_payment, fold_payment};
use orderflow_domain::{EventMeta, LedgerOutcome};
use orderflow_schemas::ledger::LedgerRecord;
use uuid::Uuid;

/// An event-sourced aggregate kept in a log keyed by its id.
pub trait Aggregate: Clone + Send + Sync + 'static {
    type Command: Clone + Send + Sync + 'static;
    type Event: LedgerRecord + Clone;
    type Error: std::error::Error + Clone + Send + Sync + 'static;
    /// The state of an aggregate nothing has happened to.
    fn new(key: &str) -> Self;
    fn decide(&self, command: &Self::Command, meta: EventMeta) -> Result<Self::Event, Self::Error>;
    /// The shared fold rule.
    fn fold(self, event: &Self::Event) -> (Self, LedgerOutcome);
    fn event_id(event: &Self::Event) -> Uuid;
    /// The (caller-scoped) idempotency key the event was appended under, if any.
    fn idempotency_key(event: &Self::Event) -> Option<&str>;
    /// What makes `command` malformed whatever the state (checked before a replay).
    fn check(key: &str, command: &Self::Command) -> Result<(), Self::Error>;
    /// Whether `event` is what `command` asks for: a retry under the same idempotency key
    /// that asks for something else is refused, never answered with the other's result.
    fn same_request(event: &Self::Event, command: &Self::Command) -> bool;
}

impl Aggregate for Stock {
    type Command = StockCommand;
    type Event = StockEvent;
    type Error = StockError;

    fn new(key: &str) -> Self {
        Stock::new(key)
    }

    fn decide(&self, command: &StockCommand, meta: EventMeta) -> Result<StockEvent, StockError> {
        decide_stock(self, command, meta)
    }

    fn fold(self, event: &StockEvent) -> (Self, LedgerOutcome) {
        fold_stock(self, event)
    }

    fn event_id(event: &StockEvent) -> Uuid {
        event.meta.event_id
    }

    fn idempotency_key(event: &StockEvent) -> Option<&str> {
        event.meta.idempotency_key.as_deref()
    }

    fn check(key: &str, command: &StockCommand) -> Result<(), StockError> {
        check_stock_command(key, command)
    }

    fn same_request(event: &StockEvent, command: &StockCommand) -> bool {
        match (&event.change, command) {
            (StockChange::Received { quantity: a }, StockCommand::Receive { quantity: b }) => {
                a == b
            }
            (
                StockChange::Adjusted {
                    delta: a,
                    reason: r,
                },
                StockCommand::Adjust {
                    delta: b,
                    reason: s,
                },
            ) => a == b && r == s,
            (
                StockChange::Reserved {
                    line: a,
                    quantity: p,
                },
                StockCommand::Reserve {
                    line: b,
                    quantity: q,
                },
            ) => a == b && p == q,
            (StockChange::Released { line: a, .. }, StockCommand::Release { line: b })
            | (StockChange::Committed { line: a, .. }, StockCommand::Commit { line: b }) => a == b,
            _ => false,
        }
    }
}

impl Aggregate for Payment {
    type Command = PaymentChange;
    type Event = PaymentEvent;
    type Error = PaymentError;

    fn new(key: &str) -> Self {
        Payment::new(key)
    }

    fn decide(
        &self,
        change: &PaymentChange,
        meta: EventMeta,
    ) -> Result<PaymentEvent, PaymentError> {
        decide_payment(self, change.clone(), meta)
    }

    fn fold(self, event: &PaymentEvent) -> (Self, LedgerOutcome) {
        fold_payment(self, event)
    }

    fn event_id(event: &PaymentEvent) -> Uuid {
        event.meta.event_id
    }

    /// Payments need none: each is recorded once by the shape of its aggregate.
    fn idempotency_key(_: &PaymentEvent) -> Option<&str> {
        None
    }

    fn check(_: &str, _: &PaymentChange) -> Result<(), PaymentError> {
        Ok(())
    }

    fn same_request(event: &PaymentEvent, change: &PaymentChange) -> bool {
        event.change == *change
    }
}
