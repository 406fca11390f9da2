//! The read model as Postgres holds it, read in one snapshot together with the offsets it
//! covers, so the log can be folded up to exactly those offsets.

use super::model::{OrderRow, ReadModel};
use orderflow_domain::Decimal;
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// One row of `orders`, as the verify query selects it.
#[derive(sqlx::FromRow)]
struct OrderTuple {
    order_id: String,
    customer_id: String,
    status: String,
    items_count: i32,
    total_amount: Decimal,
    currency: String,
    shipping_address: String,
    warehouse: Option<String>,
    carrier: Option<String>,
    tracking_number: Option<String>,
    estimated_delivery: Option<i32>,
    location: Option<String>,
    cancel_reason: Option<String>,
    reject_reason: Option<String>,
    version: i64,
    placed_at: i64,
    updated_at: i64,
}

/// The stored next offset of each partition of `topic`. Call inside the snapshot.
pub async fn offsets(
    conn: &mut PgConnection,
    topic: &str,
) -> Result<BTreeMap<i32, i64>, sqlx::Error> {
    let rows: Vec<(i32, i64)> =
        sqlx::query_as("SELECT partition, next_offset FROM projection_offsets WHERE topic = $1")
            .bind(topic)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Every table of the read model. Call inside the snapshot.
pub async fn read_model(conn: &mut PgConnection) -> Result<ReadModel, sqlx::Error> {
    let orders: Vec<OrderTuple> = sqlx::query_as(
        "SELECT order_id, customer_id, status, items_count, total_amount, currency,
                shipping_address, warehouse, carrier, tracking_number,
                (estimated_delivery - DATE '1970-01-01')::int AS estimated_delivery,
                location, cancel_reason, reject_reason, version,
                (extract(epoch FROM placed_at) * 1000)::bigint AS placed_at,
                (extract(epoch FROM updated_at) * 1000)::bigint AS updated_at
         FROM orders",
    )
    .fetch_all(&mut *conn)
    .await?;
    let items: Vec<(String, i32, String, i32, Decimal)> = sqlx::query_as(
        "SELECT order_id, line_no, product_id, quantity, unit_price FROM order_items",
    )
    .fetch_all(&mut *conn)
    .await?;
    let history: Vec<(String, i64, String, String)> =
        sqlx::query_as("SELECT order_id, version, event_type, event_id::text FROM order_history")
            .fetch_all(&mut *conn)
            .await?;
    let status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, order_count FROM stats_status WHERE order_count <> 0")
            .fetch_all(&mut *conn)
            .await?;
    let hourly: Vec<(i64, i64, Decimal)> = sqlx::query_as(
        "SELECT (extract(epoch FROM hour) * 1000)::bigint, order_count, revenue FROM stats_hourly",
    )
    .fetch_all(&mut *conn)
    .await?;
    let products: Vec<(String, i64, Decimal)> =
        sqlx::query_as("SELECT product_id, quantity, revenue FROM stats_products")
            .fetch_all(&mut *conn)
            .await?;
    Ok(ReadModel {
        orders: orders.into_iter().map(order).collect(),
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
    })
}

fn order(o: OrderTuple) -> (String, OrderRow) {
    (
        o.order_id,
        OrderRow {
            customer_id: o.customer_id,
            status: o.status,
            items_count: o.items_count,
            total_amount: o.total_amount,
            currency: o.currency,
            shipping_address: o.shipping_address,
            warehouse: o.warehouse,
            carrier: o.carrier,
            tracking_number: o.tracking_number,
            estimated_delivery: o.estimated_delivery,
            location: o.location,
            cancel_reason: o.cancel_reason,
            reject_reason: o.reject_reason,
            version: o.version,
            placed_at: o.placed_at,
            updated_at: o.updated_at,
        },
    )
}
