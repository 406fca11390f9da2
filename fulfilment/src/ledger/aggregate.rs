//! What a [`super::Ledger`] needs of an aggregate: its pure decide and fold, and the key
//! and id of its events. Implemented for the domain's stock and payment.

use orderflow_domain::inventory::{Stock, StockCommand, StockError, StockEvent};
use orderflow_domain::inventory::{decide_stock, fold_stock};
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
}
