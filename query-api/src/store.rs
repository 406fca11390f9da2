//! Postgres: the pool, and the reads of one order (its document, its version, its
//! history). The tables belong to the projector; this crate only reads them.

use crate::settings::Settings;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

/// An order as the read side serves it: the JSON document (the projector's cache shape,
/// `OrderView::to_json`) and its version, for `ETag` and `min_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDoc {
    pub version: u64,
    pub json: Value,
}

/// One event of an order's history.
#[derive(Debug, sqlx::FromRow)]
pub struct HistoryRow {
    pub version: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: Value,
}

/// The read-model database.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// The columns of `orders` every order-shaped response is built from.
pub(crate) const ORDER_COLUMNS: &str = "o.order_id, o.customer_id, o.status, o.items_count,
    o.total_amount, o.shipping_address, o.warehouse, o.carrier, o.tracking_number,
    o.location, o.cancel_reason, o.version, o.placed_at, o.updated_at, o.estimated_delivery,
    o.currency";

/// A row of `orders`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OrderRow {
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub items_count: i32,
    pub total_amount: Decimal,
    pub currency: String,
    pub shipping_address: String,
    pub warehouse: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<NaiveDate>,
    pub location: Option<String>,
    pub cancel_reason: Option<String>,
    pub version: i64,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    /// The order without its items (list entries), keyed like the full document.
    pub fn summary(&self) -> Value {
        json!({
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "status": self.status,
            "items_count": self.items_count,
            "total_amount": money(self.total_amount),
            "currency": self.currency,
            "shipping_address": self.shipping_address,
            "warehouse": self.warehouse,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "estimated_delivery": self.estimated_delivery.map(|d| d.to_string()),
            "location": self.location,
            "cancel_reason": self.cancel_reason,
            "version": self.version,
            "placed_at": rfc3339(self.placed_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }

    /// The full document with `items`, exactly the projector's `OrderView::to_json` shape
    /// (no `items_count`), so a cache hit and a miss answer the same bytes.
    fn document(&self, items: Value) -> Value {
        let mut doc = self.summary();
        if let Some(fields) = doc.as_object_mut() {
            fields.remove("items_count");
            fields.insert("items".into(), items);
        }
        doc
    }
}

impl Store {
    /// Connects lazily: a Postgres that is down costs each request at most the acquire
    /// timeout (then a 503), and is picked up again without a restart.
    pub fn connect(settings: &Settings) -> Result<Store, sqlx::Error> {
        // A hung query must end in a 503, not hold a request (and a connection) forever.
        // Unqualified names resolve to the reader views of the live generation only.
        let options = PgConnectOptions::from_str(&settings.database_url)?.options([
            ("statement_timeout", "5000"),
            ("search_path", settings.read_schema.as_str()),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.database_connections.max(1))
            .acquire_timeout(settings.database_timeout())
            .connect_lazy_with(options);
        Ok(Store { pool })
    }

    /// The pool, for the per-area queries (`list`, `stats`) and the listener.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The order with its items, in one round trip.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderDoc>, sqlx::Error> {
        // Items are built by Postgres; `unit_price::text` of numeric(12, 2) is the same
        // decimal string the projector caches ("25.99", "5.50").
        let sql = format!(
            "SELECT {ORDER_COLUMNS},
                COALESCE((SELECT json_agg(json_build_object(
                              'line_no', i.line_no, 'product_id', i.product_id,
                              'quantity', i.quantity, 'unit_price', i.unit_price::text)
                              ORDER BY i.line_no)
                          FROM order_items i WHERE i.order_id = o.order_id), '[]') AS items
             FROM orders o WHERE o.order_id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        use sqlx::{FromRow, Row};
        let order = OrderRow::from_row(&row)?;
        let items: Value = row.try_get("items")?;
        Ok(Some(OrderDoc {
            version: order.version.max(0) as u64,
            json: order.document(items),
        }))
    }

    /// The order's history in version order; `None` when there is no such order.
    pub async fn history(&self, order_id: &str) -> Result<Option<Vec<HistoryRow>>, sqlx::Error> {
        let events: Vec<HistoryRow> = sqlx::query_as(
            "SELECT version, event_type, occurred_at, data FROM order_history
             WHERE order_id = $1 ORDER BY version",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        if !events.is_empty() {
            return Ok(Some(events));
        }
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE order_id = $1)")
                .bind(order_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(exists.then(Vec::new))
    }

    /// The live generation of the read model and its Redis key prefix; `None` while the
    /// projector has not created one.
    pub async fn generation(&self) -> Result<Option<(i64, String)>, sqlx::Error> {
        let found = sqlx::query_as("SELECT id, redis_prefix FROM generation")
            .fetch_optional(&self.pool)
            .await;
        match found {
            // 42P01: no views yet, the projector has not made a generation live.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Ok(None),
            other => other,
        }
    }

    /// Whether Postgres answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }
}

/// Times as the projector writes them: RFC 3339, UTC, milliseconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Money as a decimal string with exactly two places ("51.98", "0.00").
pub fn money(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_places() {
        assert_eq!(money(Decimal::new(5198, 2)), "51.98");
        assert_eq!(money(Decimal::ZERO), "0.00");
        assert_eq!(money(Decimal::new(55, 1)), "5.50");
    }
}
