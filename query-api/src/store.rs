//! Postgres: the pool, and the reads of one order (its document, its version, its
//! history). The tables and documents belong to `orderflow_read_model`, which the
//! projector writes through; this crate only reads them.

use crate::settings::Settings;
use orderflow_read_model::{GENERATION_VIEW, HistoryEvent};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

/// An order as the read side serves it: the JSON document (`OrderView::to_json`, the
/// projector's cache shape) and its version, for `ETag` and `min_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDoc {
    pub version: u64,
    pub json: Value,
}

impl OrderDoc {
    /// The customer the order was placed for (empty if the document has none).
    pub fn customer_id(&self) -> &str {
        self.json["customer_id"].as_str().unwrap_or_default()
    }
}

/// The read-model database.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
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

    /// The order with its items, in one round trip: the projector's own load, so the
    /// document is the one it caches, and a cache hit and a miss answer the same bytes.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderDoc>, sqlx::Error> {
        let ids = [order_id.to_owned()];
        let views = orderflow_read_model::load_orders(&self.pool, &ids).await?;
        Ok(views.into_iter().next().map(|view| OrderDoc {
            version: view.version,
            json: view.to_json(),
        }))
    }

    /// The customer an order was placed for; `None` when there is no such order.
    pub async fn owner(&self, order_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT customer_id FROM orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Up to `limit` events of the order's history after `after_version`, in version order.
    pub async fn history(
        &self,
        order_id: &str,
        after_version: u64,
        limit: u64,
    ) -> Result<Vec<HistoryEvent>, sqlx::Error> {
        orderflow_read_model::load_history(&self.pool, order_id, after_version, limit).await
    }

    /// The live generation of the read model and its Redis key prefix; `None` while the
    /// projector has not created one.
    pub async fn generation(&self) -> Result<Option<(i64, String)>, sqlx::Error> {
        let sql = format!("SELECT id, redis_prefix FROM {GENERATION_VIEW}");
        let found = sqlx::query_as(&sql).fetch_optional(&self.pool).await;
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
