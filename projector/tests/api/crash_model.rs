//! The read model of the crash test: what a fold of the whole log says it must be
//! (`Expected`), what Postgres holds (`Actual`), and their row-by-row comparison.

use crate::helpers::Stack;
use orderflow_domain::{Decimal, Event, EventKind, FoldOutcome, Order, fold};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
/// A row of `orders`, timestamps in epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderRow {
    pub(crate) customer_id: String,
    pub(crate) status: String,
    pub(crate) items_count: i32,
    pub(crate) total_amount: Decimal,
    pub(crate) shipping_address: String,
    pub(crate) warehouse: Option<String>,
    pub(crate) carrier: Option<String>,
    pub(crate) tracking_number: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) cancel_reason: Option<String>,
    pub(crate) version: i64,
    pub(crate) placed_at: i64,
    pub(crate) updated_at: i64,
}

pub(crate) type ItemKey = (String, i32);
pub(crate) type ItemRow = (String, i32, Decimal);
pub(crate) type HistoryKey = (String, i64);
/// Event type and event id (as text) of a history row.
pub(crate) type HistoryRow = (String, String);

/// The read model, computed in the test by folding the log with the domain's rule.
#[derive(Default)]
pub(crate) struct Expected {
    pub(crate) orders: BTreeMap<String, OrderRow>,
    pub(crate) items: BTreeMap<ItemKey, ItemRow>,
    pub(crate) history: BTreeMap<HistoryKey, HistoryRow>,
    pub(crate) status: BTreeMap<String, i64>,
    pub(crate) hourly: BTreeMap<i64, (i64, Decimal)>,
    pub(crate) products: BTreeMap<String, (i64, Decimal)>,
    /// Where each order's last accepted event sits in the log.
    pub(crate) last_position: BTreeMap<String, (i32, i64)>,
    /// Events the fold rule did not accept.
    pub(crate) ignored: usize,
}

impl Expected {
    pub(crate) fn fold(log: &[((i32, i64), Event)]) -> Expected {
        let mut x = Expected::default();
        let mut states: HashMap<String, Order> = HashMap::new();
        for (position, e) in log {
            let state = states
                .remove(&e.order_id)
                .unwrap_or_else(|| Order::new(e.order_id.clone()));
            let folded = fold(state, e);
            states.insert(e.order_id.clone(), folded.order);
            if folded.outcome != FoldOutcome::Accepted {
                x.ignored += 1;
                continue;
            }
            x.apply(e);
            x.last_position.insert(e.order_id.clone(), *position);
        }
        for row in x.orders.values() {
            *x.status.entry(row.status.clone()).or_default() += 1;
        }
        x
    }

    pub(crate) fn apply(&mut self, e: &Event) {
        let at = e.meta.occurred_at.0;
        let data = match &e.kind {
            EventKind::Placed(p) => {
                let hour = at - at.rem_euclid(3_600_000);
                let window = self.hourly.entry(hour).or_default();
                window.0 += 1;
                window.1 += p.total_amount;
                for (n, item) in p.items.iter().enumerate() {
                    let product = self.products.entry(item.product_id.clone()).or_default();
                    product.0 += i64::from(item.quantity);
                    product.1 += item.unit_price * Decimal::from(item.quantity);
                    self.items.insert(
                        (e.order_id.clone(), n as i32 + 1),
                        (
                            item.product_id.clone(),
                            item.quantity as i32,
                            item.unit_price,
                        ),
                    );
                }
                self.orders.insert(
                    e.order_id.clone(),
                    OrderRow {
                        customer_id: p.customer_id.clone(),
                        status: String::new(),
                        items_count: p.items.len() as i32,
                        total_amount: p.total_amount,
                        shipping_address: p.shipping_address.clone(),
                        warehouse: None,
                        carrier: None,
                        tracking_number: None,
                        location: None,
                        cancel_reason: None,
                        version: 0,
                        placed_at: at,
                        updated_at: at,
                    },
                );
                None
            }
            other => Some(other),
        };
        let row = self
            .orders
            .get_mut(&e.order_id)
            .expect("accepted on a placed order");
        match data {
            Some(EventKind::Packed { warehouse }) => row.warehouse = Some(warehouse.clone()),
            Some(EventKind::Shipped {
                carrier,
                tracking_number,
                ..
            }) => {
                row.carrier = Some(carrier.clone());
                row.tracking_number = Some(tracking_number.clone());
            }
            Some(EventKind::LocationUpdated { location }) => row.location = Some(location.clone()),
            Some(EventKind::Cancelled { reason }) => row.cancel_reason = Some(reason.clone()),
            _ => {}
        }
        row.status = e.kind.resulting_status().as_str().to_owned();
        row.version = e.version as i64;
        row.updated_at = at;
        self.history.insert(
            (e.order_id.clone(), e.version as i64),
            (e.kind.type_name().to_owned(), e.meta.event_id.to_string()),
        );
    }
}

/// The read model as stored in Postgres.
pub(crate) struct Actual {
    pub(crate) orders: BTreeMap<String, OrderRow>,
    pub(crate) items: BTreeMap<ItemKey, ItemRow>,
    pub(crate) history: BTreeMap<HistoryKey, HistoryRow>,
    pub(crate) status: BTreeMap<String, i64>,
    pub(crate) hourly: BTreeMap<i64, (i64, Decimal)>,
    pub(crate) products: BTreeMap<String, (i64, Decimal)>,
}

pub(crate) type OrderTuple = (
    String,
    String,
    String,
    i32,
    Decimal,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
);

impl Actual {
    pub(crate) async fn load(stack: &Stack) -> Actual {
        let db = &stack.db;
        let orders: Vec<OrderTuple> = sqlx::query_as(
            "SELECT order_id, customer_id, status, items_count, total_amount, shipping_address,
                    warehouse, carrier, tracking_number, location, cancel_reason, version,
                    (extract(epoch FROM placed_at) * 1000)::bigint,
                    (extract(epoch FROM updated_at) * 1000)::bigint
             FROM orders",
        )
        .fetch_all(db)
        .await
        .unwrap();
        let orders = orders
            .into_iter()
            .map(|o| {
                (
                    o.0,
                    OrderRow {
                        customer_id: o.1,
                        status: o.2,
                        items_count: o.3,
                        total_amount: o.4,
                        shipping_address: o.5,
                        warehouse: o.6,
                        carrier: o.7,
                        tracking_number: o.8,
                        location: o.9,
                        cancel_reason: o.10,
                        version: o.11,
                        placed_at: o.12,
                        updated_at: o.13,
                    },
                )
            })
            .collect();
        let items: Vec<(String, i32, String, i32, Decimal)> = sqlx::query_as(
            "SELECT order_id, line_no, product_id, quantity, unit_price FROM order_items",
        )
        .fetch_all(db)
        .await
        .unwrap();
        let history: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT order_id, version, event_type, event_id::text FROM order_history",
        )
        .fetch_all(db)
        .await
        .unwrap();
        let status: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, order_count FROM stats_status WHERE order_count <> 0")
                .fetch_all(db)
                .await
                .unwrap();
        let hourly: Vec<(i64, i64, Decimal)> = sqlx::query_as(
            "SELECT (extract(epoch FROM hour) * 1000)::bigint, order_count, revenue
             FROM stats_hourly",
        )
        .fetch_all(db)
        .await
        .unwrap();
        let products: Vec<(String, i64, Decimal)> =
            sqlx::query_as("SELECT product_id, quantity, revenue FROM stats_products")
                .fetch_all(db)
                .await
                .unwrap();
        Actual {
            orders,
            items: items
                .into_iter()
                .map(|(o, l, p, q, u)| ((o, l), (p, q, u)))
                .collect(),
            history: history
                .into_iter()
                .map(|(o, v, t, id)| ((o, v), (t, id)))
                .collect(),
            status: status.into_iter().collect(),
            hourly: hourly.into_iter().map(|(h, c, r)| (h, (c, r))).collect(),
            products: products.into_iter().map(|(p, q, r)| (p, (q, r))).collect(),
        }
    }
}

/// Asserts two tables are equal, showing the first differences rather than both tables.
pub(crate) fn assert_same<K: Ord + Debug, V: PartialEq + Debug>(
    table: &str,
    expected: &BTreeMap<K, V>,
    actual: &BTreeMap<K, V>,
) {
    let mut differences = Vec::new();
    for (k, want) in expected {
        match actual.get(k) {
            Some(got) if got == want => {}
            got => differences.push(format!("{k:?}: expected {want:?}, got {got:?}")),
        }
    }
    for (k, got) in actual {
        if !expected.contains_key(k) {
            differences.push(format!("{k:?}: unexpected {got:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{table}: {} of {} expected rows differ ({} rows stored); first ones:\n{}",
        differences.len(),
        expected.len(),
        actual.len(),
        differences[..differences.len().min(10)].join("\n")
    );
}
