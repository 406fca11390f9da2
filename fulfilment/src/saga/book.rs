//! The orders the sagas are about, folded from `orders.events` with the shared rule:
//! only orders placed with `Confirmation::Required`, and only until their saga finishes.

use orderflow_domain::{
    Confirmation, Decimal, Event, EventKind, FoldOutcome, LineItem, Order, Status, fold,
};
use std::collections::{HashMap, HashSet};

/// One order a saga drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaOrder {
    pub order: Order,
    pub items: Vec<LineItem>,
    pub total: Decimal,
    pub currency: String,
    pub payment_method: Option<String>,
}

impl SagaOrder {
    pub fn id(&self) -> &str {
        &self.order.id
    }

    pub fn status(&self) -> Status {
        self.order.status.unwrap_or(Status::Pending)
    }
}

/// The sagas' orders, by id.
#[derive(Debug, Default)]
pub struct Book {
    orders: HashMap<String, SagaOrder>,
    /// Orders whose saga finished: a late duplicate of their placement (another writer's
    /// append) must not start them again.
    finished: HashSet<String>,
    /// Events of saga orders the fold rule did not accept.
    pub ignored: u64,
}

impl Book {
    /// Folds one event of the order log. The id of the order whose saga it moved, if any.
    pub fn fold(&mut self, event: &Event) -> Option<&SagaOrder> {
        if let EventKind::Placed(placed) = &event.kind {
            if placed.confirmation != Confirmation::Required
                || self.finished.contains(&event.order_id)
            {
                return None;
            }
            if !self.orders.contains_key(&event.order_id) {
                let order = SagaOrder {
                    order: Order::new(event.order_id.clone()),
                    items: placed.items.clone(),
                    total: placed.total_amount,
                    currency: placed.currency.clone(),
                    payment_method: placed.payment_method.clone(),
                };
                self.orders.insert(event.order_id.clone(), order);
            }
        }
        let saga = self.orders.get_mut(&event.order_id)?;
        let folded = fold(saga.order.clone(), event);
        if folded.outcome != FoldOutcome::Accepted {
            self.ignored += 1;
            return None;
        }
        saga.order = folded.order;
        Some(saga)
    }

    pub fn get(&self, order_id: &str) -> Option<&SagaOrder> {
        self.orders.get(order_id)
    }

    /// Forgets a finished saga.
    pub fn forget(&mut self, order_id: &str) {
        if self.orders.remove(order_id).is_some() {
            self.finished.insert(order_id.to_owned());
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.orders.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}
