//! The batch fold, pure: given the decoded events of a batch and the current state of the
//! orders they touch, the set of row changes the batch makes to the read model.
//!
//! Each event goes through the shared rule (`orderflow_domain::fold`), against the state
//! left by the events before it in the same batch, so several events of one order in a
//! batch chain correctly. Ignored events (duplicates, conflicting appends) change nothing;
//! events the lifecycle forbids are returned as rejected, for the dead-letter topic.

pub mod model;
#[cfg(test)]
pub(crate) mod tests;

use crate::fold::model::{
    DecodedRecord, HistoryRow, HourlyDelta, Ignored, OrderChange, OrderView, ProductDelta,
    Rejected, to_datetime,
};
use chrono::{DurationRound, TimeDelta};
use orderflow_domain::{Confirmation, Decimal, Event, EventKind, FoldOutcome, LineItem, Order};
use orderflow_domain::{Status, fold};
use orderflow_read_model::{apply, history_row};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Everything one batch changes in the read model.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchPlan {
    /// Final state of each order the batch changed, in the order they were first touched.
    pub orders: Vec<OrderChange>,
    /// Accepted events, in log order.
    pub history: Vec<HistoryRow>,
    /// Placements per hour, sorted by hour.
    pub hourly: Vec<HourlyDelta>,
    /// Net change of the number of orders per status, sorted by status name, zeros left out.
    pub status: Vec<(Status, i64)>,
    /// Placed quantities per product, sorted by product id.
    pub products: Vec<ProductDelta>,
    pub ignored: Vec<Ignored>,
    pub rejected: Vec<Rejected>,
}

impl BatchPlan {
    /// Whether the batch changes no row of the read model (offsets still move).
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

/// Folds `events` (in log order) over `current`, the stored state of the orders they touch
/// (orders missing from it do not exist yet).
pub fn fold_batch<'a>(
    mut current: HashMap<String, OrderView>,
    events: impl IntoIterator<Item = &'a DecodedRecord>,
) -> BatchPlan {
    let mut tally = Tally::default();
    for record in events {
        let event = &record.event;
        let existing = current.get(&event.order_id);
        let state = Order {
            id: event.order_id.clone(),
            status: existing.map(|v| v.status),
            version: existing.map_or(0, |v| v.version),
        };
        if !tally.judge(record, fold(state, event).outcome) {
            continue;
        }
        let old_status = existing.map(|v| v.status);
        let view = apply(current.remove(&event.order_id), event);
        tally.count_status(old_status, view.status);
        // Revenue counts sales: an order placed without fulfilment sells when placed, one
        // that waits for it sells when confirmed (a rejected one never does).
        match &event.kind {
            EventKind::Placed(placed) => {
                tally.placed_here.insert(event.order_id.clone());
                if placed.confirmation == Confirmation::Implied {
                    tally.count_sale(event, placed.total_amount, &placed.items);
                }
            }
            EventKind::Confirmed => tally.count_sale(event, view.total_amount, &view.items),
            _ => {}
        }
        tally.touch(&event.order_id);
        tally.plan.history.push(history_row(event));
        current.insert(event.order_id.clone(), view);
    }
    tally.into_plan(current)
}

/// What a batch adds up to while it is folded, before it becomes a [`BatchPlan`].
#[derive(Default)]
struct Tally {
    plan: BatchPlan,
    /// Orders in the order they were first touched.
    touched: Vec<String>,
    seen: HashSet<String>,
    placed_here: HashSet<String>,
    hourly: BTreeMap<chrono::DateTime<chrono::Utc>, (i64, Decimal)>,
    status: BTreeMap<&'static str, (Status, i64)>,
    products: BTreeMap<String, (i64, Decimal)>,
}

impl Tally {
    /// Whether the fold accepted the record; an ignored or rejected one is noted.
    fn judge(&mut self, record: &DecodedRecord, outcome: FoldOutcome) -> bool {
        let event = &record.event;
        match outcome {
            FoldOutcome::Accepted => return true,
            FoldOutcome::VersionConflict { current, got } => self.plan.ignored.push(Ignored {
                position: record.position,
                order_id: event.order_id.clone(),
                current,
                got,
            }),
            FoldOutcome::TransitionNotAllowed { from } => {
                let from = from.map_or("not placed", |s| s.as_str());
                self.plan.rejected.push(Rejected {
                    position: record.position,
                    reason: format!(
                        "{} at version {} is not allowed for order {} that is {from}",
                        event.kind.type_name(),
                        event.version,
                        event.order_id
                    ),
                });
            }
        }
        false
    }

    /// One order moved from `old` (none for a placement) to `new`.
    fn count_status(&mut self, old: Option<Status>, new: Status) {
        if old == Some(new) {
            return;
        }
        if let Some(old) = old {
            self.status.entry(old.as_str()).or_insert((old, 0)).1 -= 1;
        }
        self.status.entry(new.as_str()).or_insert((new, 0)).1 += 1;
    }

    /// A placement, in its hour's window and its products' totals.
    /// Adds a sale of `total` and `items` to the hour of `event`.
    fn count_sale(&mut self, event: &Event, total: Decimal, items: &[LineItem]) {
        let hour = to_datetime(event.meta.occurred_at)
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or_default();
        let window = self.hourly.entry(hour).or_insert((0, Decimal::ZERO));
        window.0 += 1;
        window.1 += total;
        for item in items {
            let product = self
                .products
                .entry(item.product_id.clone())
                .or_insert((0, Decimal::ZERO));
            product.0 += i64::from(item.quantity);
            product.1 += item.unit_price * Decimal::from(item.quantity);
        }
    }

    fn touch(&mut self, order_id: &str) {
        if self.seen.insert(order_id.to_owned()) {
            self.touched.push(order_id.to_owned());
        }
    }

    /// The plan, with each touched order's final state taken from `current`.
    fn into_plan(self, mut current: HashMap<String, OrderView>) -> BatchPlan {
        let mut plan = self.plan;
        let placed_here = self.placed_here;
        plan.orders = self
            .touched
            .into_iter()
            .filter_map(|id| {
                let placed = placed_here.contains(&id);
                current.remove(&id).map(|view| OrderChange { view, placed })
            })
            .collect();
        plan.hourly = self
            .hourly
            .into_iter()
            .map(|(hour, (order_count, revenue))| HourlyDelta {
                hour,
                order_count,
                revenue,
            })
            .collect();
        plan.status = self
            .status
            .into_values()
            .filter(|(_, delta)| *delta != 0)
            .collect();
        plan.products = self
            .products
            .into_iter()
            .map(|(product_id, (quantity, revenue))| ProductDelta {
                product_id,
                quantity,
                revenue,
            })
            .collect();
        plan
    }
}
