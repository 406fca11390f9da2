//! Stock levels: one row per product.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, Row};
use utoipa::ToSchema;

/// One product's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockLevel {
    pub product_id: String,
    /// Units in the warehouse, reserved or not.
    pub on_hand: i64,
    /// Units held for orders that are not shipped yet.
    pub reserved: i64,
    /// Units that may still be reserved: `on_hand - reserved`.
    pub available: i64,
    /// The number of stock events folded.
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// Writes `levels` in one statement; a row never goes back to an older version.
pub async fn upsert_stock<'e>(
    executor: impl PgExecutor<'e>,
    levels: &[StockLevel],
) -> Result<(), sqlx::Error> {
    let column = |f: fn(&StockLevel) -> i64| levels.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO fulfilment.stock (product_id, on_hand, reserved, version, updated_at)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                              $5::timestamptz[])
         ON CONFLICT (product_id) DO UPDATE SET
             on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
         WHERE stock.version < EXCLUDED.version",
    )
    .bind(
        levels
            .iter()
            .map(|l| l.product_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(column(|l| l.on_hand))
    .bind(column(|l| l.reserved))
    .bind(column(|l| l.version))
    .bind(levels.iter().map(|l| l.updated_at).collect::<Vec<_>>())
    .execute(executor)
    .await?;
    Ok(())
}

const SELECT: &str = "SELECT product_id, on_hand, reserved, version, updated_at
    FROM fulfilment.stock";

fn level(row: &sqlx::postgres::PgRow) -> Result<StockLevel, sqlx::Error> {
    let (on_hand, reserved): (i64, i64) = (row.try_get("on_hand")?, row.try_get("reserved")?);
    Ok(StockLevel {
        product_id: row.try_get("product_id")?,
        on_hand,
        reserved,
        available: on_hand - reserved,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The stock of `product_id`, if anything ever happened to it.
pub async fn stock_level<'e>(
    executor: impl PgExecutor<'e>,
    product_id: &str,
) -> Result<Option<StockLevel>, sqlx::Error> {
    sqlx::query(&format!("{SELECT} WHERE product_id = $1"))
        .bind(product_id)
        .fetch_optional(executor)
        .await?
        .as_ref()
        .map(level)
        .transpose()
}

/// Up to `limit` products after `after` (by id), in id order.
pub async fn list_stock<'e>(
    executor: impl PgExecutor<'e>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<StockLevel>, sqlx::Error> {
    sqlx::query(&format!(
        "{SELECT} WHERE $1::text IS NULL OR product_id > $1 ORDER BY product_id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await?
    .iter()
    .map(level)
    .collect()
}
