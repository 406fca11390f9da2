//! What readers see of a test's stack: the live generation, its stored offsets, its rows
//! (through the views) and its cached documents.

use crate::helpers::{Stack, redis_url};
use serde_json::Value;
use std::collections::HashMap;

impl Stack {
    /// The live generation's id, schema and Redis prefix, once there is one.
    pub async fn live_generation(&self) -> Option<(i64, String, String)> {
        sqlx::query_as(
            "SELECT g.id, g.schema_name, g.redis_prefix FROM orderflow_meta.generations g
             JOIN orderflow_meta.live l ON l.generation = g.id",
        )
        .fetch_optional(&self.db)
        .await
        .ok()
        .flatten()
    }

    /// The stored offsets of the live generation (empty before there is one).
    pub async fn stored_offsets(&self) -> HashMap<i32, i64> {
        let Some((_, schema, _)) = self.live_generation().await else {
            return HashMap::new();
        };
        self.offsets_of(&schema).await
    }

    /// The stored offsets of the generation in `schema`.
    pub async fn offsets_of(&self, schema: &str) -> HashMap<i32, i64> {
        let sql = format!(
            "SELECT partition, next_offset FROM {schema}.projection_offsets WHERE topic = $1"
        );
        sqlx::query_as(&sql)
            .bind(&self.topic)
            .fetch_all(&self.db)
            .await
            .map(|rows| rows.into_iter().collect())
            .unwrap_or_default()
    }

    /// The cached document of an order, if any.
    pub async fn cached(&self, order_id: &str) -> Option<Value> {
        let client = redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let (_, _, prefix) = self.live_generation().await?;
        let key = format!("{prefix}order:{order_id}");
        let text: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        text.map(|t| serde_json::from_str(&t).unwrap())
    }

    /// Drops an order's cached document, as if its write-through had been lost.
    pub async fn forget_cached(&self, order_id: &str) {
        let client = redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let (_, _, prefix) = self.live_generation().await.unwrap();
        let _: () = redis::cmd("DEL")
            .arg(format!("{prefix}order:{order_id}"))
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    /// Runs `sql` with `{schema}` replaced by the live generation's schema.
    pub async fn execute_in_live(&self, sql: &str) {
        let (_, schema, _) = self.live_generation().await.unwrap();
        let sql = sql.replace("{schema}", &schema);
        sqlx::query(&sql).execute(&self.db).await.unwrap();
    }

    /// Every order's id, status and version, in the order they were placed.
    pub async fn statuses(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as("SELECT order_id, status, version FROM orders ORDER BY placed_at")
            .fetch_all(&self.db)
            .await
            .unwrap()
    }

    /// The status of order `id`.
    pub async fn status_of(&self, id: &str) -> String {
        sqlx::query_scalar("SELECT status FROM orders WHERE order_id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// The status and version of order `id`.
    pub async fn status_and_version_of(&self, id: &str) -> (String, i64) {
        sqlx::query_as("SELECT status, version FROM orders WHERE order_id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// How many history entries all orders have together.
    pub async fn history_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM order_history")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}
