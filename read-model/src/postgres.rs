//! The Postgres side of the contract: the schema (its migrations), the names readers query
//! by, and the reads that turn rows into documents.
//!
//! A generation's schema holds the tables ([`MIGRATOR`]); readers query the views of
//! [`READ_SCHEMA`] over the live generation, which carry the tables' names, plus the
//! [`GENERATION_VIEW`]. Both the projector (loading the orders a batch folds over) and the
//! query API (serving an order on a cache miss) read an order with [`load_orders`], so the
//! document it serves from Postgres is by construction the one the projector caches.

use crate::document::{HistoryEvent, OrderView};
use orderflow_domain::{Decimal, LineItem, Status};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};

/// The read model's tables, applied to each generation's schema (sqlx keeps its history
/// there too, since unqualified names land in the schema of the `search_path`).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The schema of the views readers query; they always show the live generation.
pub const READ_SCHEMA: &str = "orderflow_read";
/// The view of [`READ_SCHEMA`] naming the live generation: `id bigint`, `redis_prefix text`.
pub const GENERATION_VIEW: &str = "generation";
/// Tables of a generation that readers get no view of: the projector's own bookkeeping.
pub const PRIVATE_TABLES: [&str; 2] = ["_sqlx_migrations", "projection_offsets"];

/// Orders (`o`) with their items, each row read by [`order_from_row`]; a caller appends
/// its conditions (`AND …`), order and limit.
///
/// Items come through a lateral subquery rather than a `GROUP BY o.order_id`: readers query
/// views, for which Postgres cannot infer the other columns from the key. It also names
/// `orders` before `order_items`, the order a generation switch locks the views in.
pub const SELECT_ORDERS: &str = "SELECT o.order_id, o.customer_id, o.status, o.total_amount,
        o.shipping_address, o.currency, o.warehouse, o.carrier, o.tracking_number,
        o.estimated_delivery, o.location, o.cancel_reason, o.reject_reason, o.version,
        o.placed_at, o.updated_at, i.product_ids, i.quantities, i.unit_prices
    FROM orders o
    CROSS JOIN LATERAL (
        SELECT COALESCE(array_agg(product_id ORDER BY line_no), '{}') AS product_ids,
               COALESCE(array_agg(quantity ORDER BY line_no), '{}') AS quantities,
               COALESCE(array_agg(unit_price ORDER BY line_no), '{}') AS unit_prices
        FROM order_items WHERE order_items.order_id = o.order_id) i
    WHERE TRUE";

/// The stored state of the given orders (those that exist), with their items, in one query.
pub async fn load_orders<'e>(
    executor: impl PgExecutor<'e>,
    order_ids: &[String],
) -> Result<Vec<OrderView>, sqlx::Error> {
    let rows = sqlx::query(&format!("{SELECT_ORDERS} AND o.order_id = ANY($1)"))
        .bind(order_ids)
        .fetch_all(executor)
        .await?;
    rows.iter().map(order_from_row).collect()
}

/// [`load_orders`] for a writer on a generation's own tables (not through the reader
/// views, where Postgres refuses this form): one `GROUP BY` over a join instead of a
/// subquery per order, which the projector's batch runs over every order it touches.
pub async fn load_orders_from_tables<'e>(
    executor: impl PgExecutor<'e>,
    order_ids: &[String],
) -> Result<Vec<OrderView>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT o.order_id, o.customer_id, o.status, o.total_amount, o.shipping_address,
                o.currency, o.warehouse, o.carrier, o.tracking_number, o.estimated_delivery,
                o.location, o.cancel_reason, o.reject_reason, o.version, o.placed_at,
                o.updated_at,
                COALESCE(array_agg(i.product_id ORDER BY i.line_no)
                         FILTER (WHERE i.line_no IS NOT NULL), '{}') AS product_ids,
                COALESCE(array_agg(i.quantity ORDER BY i.line_no)
                         FILTER (WHERE i.line_no IS NOT NULL), '{}') AS quantities,
                COALESCE(array_agg(i.unit_price ORDER BY i.line_no)
                         FILTER (WHERE i.line_no IS NOT NULL), '{}') AS unit_prices
         FROM orders o LEFT JOIN order_items i ON i.order_id = o.order_id
         WHERE o.order_id = ANY($1)
         GROUP BY o.order_id",
    )
    .bind(order_ids)
    .fetch_all(executor)
    .await?;
    rows.iter().map(order_from_row).collect()
}

/// A page of the order's history in version order: up to `limit` events after version
/// `after_version` (empty for an unknown order).
pub async fn load_history<'e>(
    executor: impl PgExecutor<'e>,
    order_id: &str,
    after_version: u64,
    limit: u64,
) -> Result<Vec<HistoryEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, event_id, event_type, occurred_at, data FROM order_history
         WHERE order_id = $1 AND version > $2 ORDER BY version LIMIT $3",
    )
    .bind(order_id)
    .bind(after_version.min(i64::MAX as u64) as i64)
    .bind(limit.min(i64::MAX as u64) as i64)
    .fetch_all(executor)
    .await
}

/// An order of a [`SELECT_ORDERS`] row.
pub fn order_from_row(row: &PgRow) -> Result<OrderView, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status = Status::parse(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {status:?}").into()))?;
    let products: Vec<String> = row.try_get("product_ids")?;
    let quantities: Vec<i32> = row.try_get("quantities")?;
    let prices: Vec<Decimal> = row.try_get("unit_prices")?;
    let items = products
        .into_iter()
        .zip(quantities)
        .zip(prices)
        .map(|((product_id, quantity), unit_price)| LineItem {
            product_id,
            quantity: quantity.max(0) as u32,
            unit_price,
        })
        .collect();
    let version: i64 = row.try_get("version")?;
    Ok(OrderView {
        order_id: row.try_get("order_id")?,
        customer_id: row.try_get("customer_id")?,
        status,
        items,
        total_amount: row.try_get("total_amount")?,
        shipping_address: row.try_get("shipping_address")?,
        currency: row.try_get("currency")?,
        warehouse: row.try_get("warehouse")?,
        carrier: row.try_get("carrier")?,
        tracking_number: row.try_get("tracking_number")?,
        location: row.try_get("location")?,
        cancel_reason: row.try_get("cancel_reason")?,
        reject_reason: row.try_get("reject_reason")?,
        estimated_delivery: row.try_get("estimated_delivery")?,
        version: version.max(0) as u64,
        placed_at: row.try_get("placed_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
