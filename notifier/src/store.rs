//! The fold's transaction: one per batch, holding the partitions' next offsets (locked,
//! so two members that briefly read the same partition during a rebalance fold each record
//! once), the orders' fold state, the new notices and one delivery per matching
//! subscription. A crash rolls the batch back; it is folded again from the stored offsets.

use crate::fold::{Counts, Decoded, plan};
use crate::message;
use crate::notice::{Notice, Tracked};
use chrono::DateTime;
use orderflow_domain::{Order, Status};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

/// The outbox, as the fold and the delivery workers write it.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// The query API's address, for the emails' tracking links.
    tracking_base: String,
}

impl Store {
    pub fn new(pool: PgPool, tracking_base: &str) -> Store {
        Store {
            pool,
            tracking_base: tracking_base.to_owned(),
        }
    }

    /// The stored next offset of each of `partitions` (0 for one never folded).
    pub async fn next_offsets(&self, partitions: &[i32]) -> Result<HashMap<i32, i64>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT partition, next_offset FROM notifier.offsets WHERE partition = ANY($1)",
        )
        .bind(partitions)
        .fetch_all(&self.pool)
        .await?;
        let mut offsets: HashMap<i32, i64> = partitions.iter().map(|&p| (p, 0)).collect();
        for row in rows {
            offsets.insert(row.try_get("partition")?, row.try_get("next_offset")?);
        }
        Ok(offsets)
    }

    /// Folds `records` in one transaction.
    pub async fn fold(&self, records: &[Decoded]) -> Result<Folded, sqlx::Error> {
        let mut partitions: Vec<i32> = records.iter().map(|r| r.partition).collect();
        partitions.sort_unstable();
        partitions.dedup();
        let mut tx = self.pool.begin().await?;
        let stored = lock_offsets(&mut tx, &partitions).await?;
        let mut ids: Vec<String> = records
            .iter()
            .filter_map(|r| r.event.as_ref().ok().map(|e| e.order_id.clone()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let orders = load_orders(&mut tx, &ids).await?;
        let plan = plan(&stored, orders, records);
        save_orders(&mut tx, &plan.orders).await?;
        let queued = self.save_notices(&mut tx, &plan.notices).await?;
        let (moved, next): (Vec<i32>, Vec<i64>) =
            plan.next_offsets.iter().map(|(p, o)| (*p, *o)).unzip();
        sqlx::query(
            "UPDATE notifier.offsets o SET next_offset = v.next
             FROM unnest($1::int[], $2::bigint[]) AS v(partition, next)
             WHERE o.partition = v.partition",
        )
        .bind(&moved)
        .bind(&next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Folded {
            counts: plan.counts,
            notices: plan.notices.len(),
            queued,
        })
    }

    /// The notices that someone hears about, and one delivery for each subscription that
    /// hears about their customer (its own, or a webhook for every order). A notice nobody
    /// subscribed to is not kept; subscriptions made later hear about later changes only.
    async fn save_notices(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        notices: &[Notice],
    ) -> Result<u64, sqlx::Error> {
        if notices.is_empty() {
            return Ok(0);
        }
        let mut columns = NoticeColumns::default();
        for notice in notices {
            let email = message::email(notice, &self.tracking_base);
            columns.id.push(notice.id);
            columns.order_id.push(notice.order_id.clone());
            columns.customer_id.push(notice.customer_id.clone());
            columns.status.push(notice.status.as_str().to_owned());
            columns.version.push(notice.version as i64);
            columns
                .occurred_at
                .push(DateTime::from_timestamp_millis(notice.occurred_at.0).unwrap_or_default());
            columns.body.push(message::webhook_body(notice).to_string());
            columns.subject.push(email.subject);
            columns.text.push(email.text);
        }
        // One statement, so the notices and their deliveries see the same subscriptions.
        let queued = sqlx::query(
            "WITH n AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                      $5::bigint[], $6::timestamptz[], $7::text[], $8::text[],
                                      $9::text[])
                     AS n(id, order_id, customer_id, status, version, occurred_at, body,
                          email_subject, email_text)),
             d AS (
                 SELECT n.id, s.id AS subscription_id, s.channel, n.order_id, n.version
                 FROM n JOIN notifier.subscriptions s
                   ON s.customer_id = n.customer_id OR s.customer_id IS NULL),
             told AS (
                 INSERT INTO notifier.notices (id, order_id, customer_id, status, version,
                                               occurred_at, body, email_subject, email_text)
                 SELECT * FROM n WHERE n.id IN (SELECT id FROM d)
                 ON CONFLICT (id) DO NOTHING)
             INSERT INTO notifier.deliveries (notice_id, subscription_id, channel, order_id,
                                              version)
             SELECT * FROM d
             ON CONFLICT DO NOTHING",
        )
        .bind(&columns.id)
        .bind(&columns.order_id)
        .bind(&columns.customer_id)
        .bind(&columns.status)
        .bind(&columns.version)
        .bind(&columns.occurred_at)
        .bind(&columns.body)
        .bind(&columns.subject)
        .bind(&columns.text)
        .execute(&mut **tx)
        .await?;
        Ok(queued.rows_affected())
    }
}

/// What a batch's transaction did.
#[derive(Debug, Clone, Copy)]
pub struct Folded {
    /// How the records were taken.
    pub counts: Counts,
    /// Accepted status changes (notices), whether or not anyone hears of them.
    pub notices: usize,
    /// Deliveries queued for them.
    pub queued: u64,
}

#[derive(Default)]
struct NoticeColumns {
    id: Vec<Uuid>,
    order_id: Vec<String>,
    customer_id: Vec<String>,
    status: Vec<String>,
    version: Vec<i64>,
    occurred_at: Vec<DateTime<chrono::Utc>>,
    body: Vec<String>,
    subject: Vec<String>,
    text: Vec<String>,
}

/// The next offsets of `partitions`, rows created at 0 where missing, locked until the
/// transaction ends.
async fn lock_offsets(
    tx: &mut Transaction<'_, Postgres>,
    partitions: &[i32],
) -> Result<HashMap<i32, i64>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifier.offsets (partition, next_offset)
         SELECT unnest($1::int[]), 0 ON CONFLICT DO NOTHING",
    )
    .bind(partitions)
    .execute(&mut **tx)
    .await?;
    let rows = sqlx::query(
        "SELECT partition, next_offset FROM notifier.offsets
         WHERE partition = ANY($1) ORDER BY partition FOR UPDATE",
    )
    .bind(partitions)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("partition")?, row.try_get("next_offset")?)))
        .collect()
}

async fn load_orders(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[String],
) -> Result<HashMap<String, Tracked>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT order_id, customer_id, status, version FROM notifier.orders WHERE order_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut orders = HashMap::new();
    for row in rows {
        let id: String = row.try_get("order_id")?;
        let status: Option<String> = row.try_get("status")?;
        let version: i64 = row.try_get("version")?;
        let tracked = Tracked {
            order: Order {
                id: id.clone(),
                status: status.as_deref().and_then(Status::parse),
                version: version as u64,
            },
            customer_id: row.try_get("customer_id")?,
        };
        orders.insert(id, tracked);
    }
    Ok(orders)
}

async fn save_orders(
    tx: &mut Transaction<'_, Postgres>,
    orders: &[Tracked],
) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = orders.iter().map(|t| t.order.id.as_str()).collect();
    let customers: Vec<Option<&str>> = orders.iter().map(|t| t.customer_id.as_deref()).collect();
    let statuses: Vec<Option<&str>> = orders
        .iter()
        .map(|t| t.order.status.map(Status::as_str))
        .collect();
    let versions: Vec<i64> = orders.iter().map(|t| t.order.version as i64).collect();
    sqlx::query(
        "INSERT INTO notifier.orders (order_id, customer_id, status, version)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (order_id) DO UPDATE
         SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, version = EXCLUDED.version",
    )
    .bind(&ids)
    .bind(&customers)
    .bind(&statuses)
    .bind(&versions)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
