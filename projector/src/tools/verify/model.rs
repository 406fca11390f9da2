//! The read model as a fold of the log says it must be, computed in memory with the
//! domain's rule and nothing of the projector's own folding code, so a bug there shows up
//! as a difference instead of being repeated here.

use orderflow_domain::{
    Confirmation, Decimal, Event, EventKind, FoldOutcome, LineItem, Order, fold,
};
use std::collections::{BTreeMap, HashMap};

/// A row of `orders`, timestamps in epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub customer_id: String,
    pub status: String,
    pub items_count: i32,
    pub total_amount: Decimal,
    pub currency: String,
    pub shipping_address: String,
    pub warehouse: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// Days since 1970-01-01.
    pub estimated_delivery: Option<i32>,
    pub location: Option<String>,
    pub cancel_reason: Option<String>,
    pub reject_reason: Option<String>,
    pub version: i64,
    pub placed_at: i64,
    pub updated_at: i64,
}

/// Order id and line number.
pub type ItemKey = (String, i32);
/// Product, quantity, unit price.
pub type ItemRow = (String, i32, Decimal);
/// Order id and version.
pub type HistoryKey = (String, i64);
/// Event type and event id (as text).
pub type HistoryRow = (String, String);

/// Every table of the read model, keyed by primary key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadModel {
    pub orders: BTreeMap<String, OrderRow>,
    pub items: BTreeMap<ItemKey, ItemRow>,
    pub history: BTreeMap<HistoryKey, HistoryRow>,
    /// Orders per current status (zero counts left out).
    pub status: BTreeMap<String, i64>,
    /// Placements and revenue per hour (epoch ms of the hour).
    pub hourly: BTreeMap<i64, (i64, Decimal)>,
    /// Quantity and revenue placed per product.
    pub products: BTreeMap<String, (i64, Decimal)>,
}

/// Folds events, in log order per partition, into the [`ReadModel`] they imply.
#[derive(Debug, Default)]
pub struct Folder {
    states: HashMap<String, Order>,
    model: ReadModel,
    /// The total and items of each order that waits for fulfilment, counted when confirmed.
    placed: HashMap<String, (Decimal, Vec<LineItem>)>,
    /// Events the fold rule did not accept (duplicates, conflicts, forbidden transitions).
    pub ignored: usize,
}

impl Folder {
    /// Folds one event with the domain's rule; only accepted events change the model.
    pub fn push(&mut self, e: &Event) {
        let state = self
            .states
            .remove(&e.order_id)
            .unwrap_or_else(|| Order::new(e.order_id.clone()));
        let folded = fold(state, e);
        self.states.insert(e.order_id.clone(), folded.order);
        if folded.outcome == FoldOutcome::Accepted {
            self.apply(e);
        } else {
            self.ignored += 1;
        }
    }

    /// The model, with the status counts derived from the orders.
    pub fn finish(mut self) -> ReadModel {
        for row in self.model.orders.values() {
            *self.model.status.entry(row.status.clone()).or_default() += 1;
        }
        self.model
    }

    /// A sale at `at` (ms): revenue of its hour and of its products.
    fn sale(&mut self, at: i64, total: Decimal, items: &[LineItem]) {
        let m = &mut self.model;
        let window = m.hourly.entry(at - at.rem_euclid(3_600_000)).or_default();
        window.0 += 1;
        window.1 += total;
        for item in items {
            let product = m.products.entry(item.product_id.clone()).or_default();
            product.0 += i64::from(item.quantity);
            product.1 += item.unit_price * Decimal::from(item.quantity);
        }
    }

    fn apply(&mut self, e: &Event) {
        let at = e.meta.occurred_at.0;
        if let EventKind::Placed(p) = &e.kind {
            match p.confirmation {
                Confirmation::Implied => self.sale(at, p.total_amount, &p.items),
                Confirmation::Required => {
                    let sale = (p.total_amount, p.items.clone());
                    self.placed.insert(e.order_id.clone(), sale);
                }
            }
            let m = &mut self.model;
            for (n, item) in p.items.iter().enumerate() {
                let row = (
                    item.product_id.clone(),
                    item.quantity as i32,
                    item.unit_price,
                );
                m.items.insert((e.order_id.clone(), n as i32 + 1), row);
            }
            m.orders.insert(e.order_id.clone(), placed_row(p, at));
        }
        if matches!(e.kind, EventKind::Confirmed | EventKind::Rejected { .. })
            && let Some((total, items)) = self.placed.remove(&e.order_id)
            && e.kind == EventKind::Confirmed
        {
            self.sale(at, total, &items);
        }
        let Some(row) = self.model.orders.get_mut(&e.order_id) else {
            return;
        };
        match &e.kind {
            EventKind::Packed { warehouse } => row.warehouse = Some(warehouse.clone()),
            EventKind::Shipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => {
                row.carrier = Some(carrier.clone());
                row.tracking_number = Some(tracking_number.clone());
                row.estimated_delivery = estimated_delivery.map(|d| d.0);
            }
            EventKind::LocationUpdated { location } => row.location = Some(location.clone()),
            EventKind::Cancelled { reason } => row.cancel_reason = Some(reason.clone()),
            EventKind::Rejected { reason } => row.reject_reason = Some(reason.clone()),
            _ => {}
        }
        row.status = e.kind.resulting_status().as_str().to_owned();
        row.version = e.version as i64;
        row.updated_at = at;
        self.model.history.insert(
            (e.order_id.clone(), e.version as i64),
            (e.kind.type_name().to_owned(), e.meta.event_id.to_string()),
        );
    }
}

fn placed_row(p: &orderflow_domain::OrderPlaced, at: i64) -> OrderRow {
    OrderRow {
        customer_id: p.customer_id.clone(),
        status: String::new(),
        items_count: p.items.len() as i32,
        total_amount: p.total_amount,
        currency: p.currency.clone(),
        shipping_address: p.shipping_address.clone(),
        warehouse: None,
        carrier: None,
        tracking_number: None,
        estimated_delivery: None,
        location: None,
        cancel_reason: None,
        reject_reason: None,
        version: 0,
        placed_at: at,
        updated_at: at,
    }
}

/// How one table differs.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDifference {
    pub table: &'static str,
    /// Rows missing, unexpected or different.
    pub count: usize,
    pub expected_rows: usize,
    pub actual_rows: usize,
    /// The first differences, one line each.
    pub first: Vec<String>,
}

/// Lines shown per differing table.
const SHOWN: usize = 10;

/// Compares every table; empty when the models are equal.
pub fn compare(expected: &ReadModel, actual: &ReadModel) -> Vec<TableDifference> {
    [
        table("orders", &expected.orders, &actual.orders),
        table("order_items", &expected.items, &actual.items),
        table("order_history", &expected.history, &actual.history),
        table("stats_status", &expected.status, &actual.status),
        table("stats_hourly", &expected.hourly, &actual.hourly),
        table("stats_products", &expected.products, &actual.products),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn table<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    name: &'static str,
    expected: &BTreeMap<K, V>,
    actual: &BTreeMap<K, V>,
) -> Option<TableDifference> {
    let mut lines = Vec::new();
    let mut count = 0;
    let mut note = |line: String| {
        count += 1;
        if lines.len() < SHOWN {
            lines.push(line);
        }
    };
    for (k, want) in expected {
        match actual.get(k) {
            Some(got) if got == want => {}
            Some(got) => note(format!("{k:?}: expected {want:?}, stored {got:?}")),
            None => note(format!("{k:?}: expected {want:?}, missing")),
        }
    }
    for (k, got) in actual {
        if !expected.contains_key(k) {
            note(format!("{k:?}: not expected, stored {got:?}"));
        }
    }
    (count > 0).then_some(TableDifference {
        table: name,
        count,
        expected_rows: expected.len(),
        actual_rows: actual.len(),
        first: lines,
    })
}
