//! The set-based statements of a batch: one `INSERT … SELECT FROM UNNEST(arrays)` per
//! table, whatever the batch size, so a batch costs a handful of round trips.

use crate::fold::BatchPlan;
use crate::fold::model::OrderView;
use chrono::{DateTime, Utc};
use orderflow_domain::Decimal;
use orderflow_read_model::{ORDERS_CHANNEL, OrderChanged};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

/// Writes the order rows of `plan` inside `tx`, announcing the changed orders when
/// `announce`.
pub async fn write_order_rows(
    tx: &mut Transaction<'static, Postgres>,
    plan: &BatchPlan,
    announce: bool,
) -> Result<(), sqlx::Error> {
    let conn: &mut PgConnection = tx;
    if !plan.orders.is_empty() {
        write_orders(conn, plan).await?;
        if announce {
            notify(conn, plan).await?;
        }
    }
    Ok(())
}

/// The order rows of `plan`: orders, their items and their history.
pub async fn write_orders(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    upsert_orders(conn, plan).await?;
    insert_items(conn, plan).await?;
    insert_history(conn, plan).await
}

async fn upsert_orders(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let views = plan.orders.iter().map(|c| &c.view);
    let text = |f: fn(&OrderView) -> &str| -> Vec<String> {
        plan.orders.iter().map(|c| f(&c.view).to_owned()).collect()
    };
    let opt = |f: fn(&OrderView) -> &Option<String>| -> Vec<Option<String>> {
        plan.orders.iter().map(|c| f(&c.view).clone()).collect()
    };
    // The version guard keeps a row from ever going back, whoever writes it.
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, status, items_count, total_amount,
                             shipping_address, warehouse, carrier, tracking_number, location,
                             cancel_reason, version, placed_at, updated_at, estimated_delivery,
                             currency, reject_reason)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int[], $5::numeric[],
                              $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                              $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[],
                              $15::date[], $16::text[], $17::text[])
         ON CONFLICT (order_id) DO UPDATE SET
             status = EXCLUDED.status, warehouse = EXCLUDED.warehouse,
             carrier = EXCLUDED.carrier, tracking_number = EXCLUDED.tracking_number,
             location = EXCLUDED.location, cancel_reason = EXCLUDED.cancel_reason,
             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
             estimated_delivery = EXCLUDED.estimated_delivery,
             reject_reason = EXCLUDED.reject_reason
         WHERE orders.version < EXCLUDED.version",
    )
    .bind(text(|v| &v.order_id))
    .bind(text(|v| &v.customer_id))
    .bind(text(|v| v.status.as_str()))
    .bind(
        views
            .clone()
            .map(|v| v.items.len() as i32)
            .collect::<Vec<_>>(),
    )
    .bind(views.clone().map(|v| v.total_amount).collect::<Vec<_>>())
    .bind(text(|v| &v.shipping_address))
    .bind(opt(|v| &v.warehouse))
    .bind(opt(|v| &v.carrier))
    .bind(opt(|v| &v.tracking_number))
    .bind(opt(|v| &v.location))
    .bind(opt(|v| &v.cancel_reason))
    .bind(views.clone().map(|v| v.version as i64).collect::<Vec<_>>())
    .bind(views.clone().map(|v| v.placed_at).collect::<Vec<_>>())
    .bind(views.clone().map(|v| v.updated_at).collect::<Vec<_>>())
    .bind(views.map(|v| v.estimated_delivery).collect::<Vec<_>>())
    .bind(text(|v| &v.currency))
    .bind(opt(|v| &v.reject_reason))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_items(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let mut order_ids = Vec::new();
    let mut line_nos = Vec::new();
    let mut products = Vec::new();
    let mut quantities = Vec::new();
    let mut prices: Vec<Decimal> = Vec::new();
    for change in plan.orders.iter().filter(|c| c.placed) {
        for (i, item) in change.view.items.iter().enumerate() {
            order_ids.push(change.view.order_id.clone());
            line_nos.push(i as i32 + 1);
            products.push(item.product_id.clone());
            quantities.push(item.quantity as i32);
            prices.push(item.unit_price);
        }
    }
    if order_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
         SELECT * FROM UNNEST($1::text[], $2::int[], $3::text[], $4::int[], $5::numeric[])
         ON CONFLICT DO NOTHING",
    )
    .bind(order_ids)
    .bind(line_nos)
    .bind(products)
    .bind(quantities)
    .bind(prices)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_history(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let h = &plan.history;
    sqlx::query(
        "INSERT INTO order_history (order_id, version, event_type, event_id, occurred_at, data)
         SELECT o, v, t, e, a, d::jsonb
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::uuid[], $5::timestamptz[],
                     $6::text[]) AS u(o, v, t, e, a, d)
         ON CONFLICT DO NOTHING",
    )
    .bind(h.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind(h.iter().map(|r| r.version as i64).collect::<Vec<_>>())
    .bind(h.iter().map(|r| r.event_type).collect::<Vec<_>>())
    .bind(h.iter().map(|r| r.event_id).collect::<Vec<Uuid>>())
    .bind(
        h.iter()
            .map(|r| r.occurred_at)
            .collect::<Vec<DateTime<Utc>>>(),
    )
    .bind(h.iter().map(|r| r.data.to_string()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// One notification per changed order ([`OrderChanged`]); delivered to listeners only
/// when the batch commits.
async fn notify(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let payloads: Vec<String> = plan
        .orders
        .iter()
        .map(|c| {
            OrderChanged {
                order_id: c.view.order_id.as_str().into(),
                version: c.view.version,
            }
            .payload()
        })
        .collect();
    sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::text[]) AS p")
        .bind(ORDERS_CHANNEL)
        .bind(payloads)
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds the analytics deltas of `plan`. Concurrent batch loops update the same rows, so
/// every transaction locks them in one order: the tables as written here, and the rows of
/// each in key order, as the fold sorts its deltas ([`BatchPlan`]). Two loops then wait
/// for each other's commit, never deadlock.
pub async fn upsert_stats(
    tx: &mut Transaction<'static, Postgres>,
    plan: &BatchPlan,
) -> Result<(), sqlx::Error> {
    let conn: &mut PgConnection = tx;
    if !plan.hourly.is_empty() {
        add_hourly(conn, plan).await?;
    }
    if !plan.status.is_empty() {
        let statuses: Vec<&str> = plan.status.iter().map(|(s, _)| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO stats_status (status, order_count)
             SELECT * FROM UNNEST($1::text[], $2::bigint[])
             ON CONFLICT (status) DO UPDATE SET
                 order_count = stats_status.order_count + EXCLUDED.order_count",
        )
        .bind(statuses)
        .bind(plan.status.iter().map(|(_, d)| *d).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !plan.products.is_empty() {
        add_products(conn, plan).await?;
    }
    Ok(())
}

async fn add_hourly(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let counts: Vec<i64> = plan.hourly.iter().map(|w| w.order_count).collect();
    sqlx::query(
        "INSERT INTO stats_hourly (hour, order_count, revenue)
         SELECT * FROM UNNEST($1::timestamptz[], $2::bigint[], $3::numeric[])
         ON CONFLICT (hour) DO UPDATE SET
             order_count = stats_hourly.order_count + EXCLUDED.order_count,
             revenue = stats_hourly.revenue + EXCLUDED.revenue",
    )
    .bind(plan.hourly.iter().map(|w| w.hour).collect::<Vec<_>>())
    .bind(counts)
    .bind(plan.hourly.iter().map(|w| w.revenue).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn add_products(conn: &mut PgConnection, plan: &BatchPlan) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = plan.products.iter().map(|p| p.product_id.clone()).collect();
    sqlx::query(
        "INSERT INTO stats_products (product_id, quantity, revenue)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::numeric[])
         ON CONFLICT (product_id) DO UPDATE SET
             quantity = stats_products.quantity + EXCLUDED.quantity,
             revenue = stats_products.revenue + EXCLUDED.revenue",
    )
    .bind(ids)
    .bind(plan.products.iter().map(|p| p.quantity).collect::<Vec<_>>())
    .bind(plan.products.iter().map(|p| p.revenue).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}
