//! Sagas: where the fulfilment of each order stands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, Row};
use utoipa::ToSchema;

/// One order's saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SagaRow {
    pub order_id: String,
    /// The order's status.
    pub status: String,
    /// The payment's status, once the processor answered.
    pub payment: Option<String>,
    /// The step that is next (`reserve`, `authorize`, `confirm`, `release`, `void`,
    /// `capture`, …); none while the saga waits for the order to change, or is finished.
    pub step: Option<String>,
    /// Since when `step` is next.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub step_since: Option<DateTime<Utc>>,
    /// Attempts of `step` that failed.
    pub attempts: i32,
    /// What the last failed attempt said.
    pub last_error: Option<String>,
    /// Nothing is left to do: the order is delivered, cancelled or rejected, and its stock
    /// and payment are settled.
    pub finished: bool,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// Writes `sagas` in one statement (the fulfilment service is their only writer).
pub async fn upsert_sagas<'e>(
    executor: impl PgExecutor<'e>,
    sagas: &[SagaRow],
) -> Result<(), sqlx::Error> {
    let text = |f: fn(&SagaRow) -> &str| sagas.iter().map(|s| f(s).to_owned()).collect::<Vec<_>>();
    let opt =
        |f: fn(&SagaRow) -> &Option<String>| sagas.iter().map(|s| f(s).clone()).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO fulfilment.sagas (order_id, status, payment, step, step_since, attempts,
                                       last_error, finished, updated_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
                              $5::timestamptz[], $6::int[], $7::text[], $8::bool[],
                              $9::timestamptz[])
         ON CONFLICT (order_id) DO UPDATE SET
             status = EXCLUDED.status, payment = EXCLUDED.payment, step = EXCLUDED.step,
             step_since = EXCLUDED.step_since, attempts = EXCLUDED.attempts,
             last_error = EXCLUDED.last_error, finished = EXCLUDED.finished,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(text(|s| &s.order_id))
    .bind(text(|s| &s.status))
    .bind(opt(|s| &s.payment))
    .bind(opt(|s| &s.step))
    .bind(sagas.iter().map(|s| s.step_since).collect::<Vec<_>>())
    .bind(sagas.iter().map(|s| s.attempts).collect::<Vec<_>>())
    .bind(opt(|s| &s.last_error))
    .bind(sagas.iter().map(|s| s.finished).collect::<Vec<_>>())
    .bind(sagas.iter().map(|s| s.updated_at).collect::<Vec<_>>())
    .execute(executor)
    .await?;
    Ok(())
}

/// Sagas whose next step has been next since before `stuck_before` (all open ones when
/// it is `None`), oldest first, at most `limit`.
pub async fn list_sagas<'e>(
    executor: impl PgExecutor<'e>,
    stuck_before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<SagaRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT order_id, status, payment, step, step_since, attempts, last_error, finished,
                updated_at
         FROM fulfilment.sagas
         WHERE step IS NOT NULL AND ($1::timestamptz IS NULL OR step_since < $1)
         ORDER BY step_since, order_id LIMIT $2",
    )
    .bind(stuck_before)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SagaRow {
                order_id: row.try_get("order_id")?,
                status: row.try_get("status")?,
                payment: row.try_get("payment")?,
                step: row.try_get("step")?,
                step_since: row.try_get("step_since")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                finished: row.try_get("finished")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect()
}
