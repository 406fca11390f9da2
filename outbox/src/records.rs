//! What was sent: each customer's notices, each with its deliveries and every attempt, as
//! the API lists them; and the retry by hand of a parked delivery.

use crate::Channel;
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use uuid::Uuid;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet: due now or later (a retry is scheduled), or being sent.
    Pending,
    Delivered,
    /// Every attempt failed: on the dead-letter topic, waiting for a retry by hand.
    Parked,
    /// Its subscription was deleted before it went out.
    Dropped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Parked => "parked",
            DeliveryState::Dropped => "dropped",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [Self::Pending, Self::Delivered, Self::Parked, Self::Dropped]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    /// 1 for the first try (again after a retry by hand).
    pub attempt: i32,
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
    /// `delivered`, `failed` (retried later) or `parked` (the last one failed).
    pub outcome: String,
    /// What went wrong (the receiver's status, the SMTP error), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One notice to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    #[schema(value_type = String, format = "uuid")]
    pub subscription_id: Uuid,
    pub channel: Channel,
    pub state: DeliveryState,
    /// Tries so far (since the last retry by hand).
    pub attempts: i32,
    /// When the next try is due, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub history: Vec<AttemptRecord>,
}

/// One accepted status change of an order, with where it went.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NoticeRecord {
    /// The event's id: the id every receiver got.
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub deliveries: Vec<DeliveryRecord>,
}

/// A page of notices, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NoticePage {
    pub notices: Vec<NoticeRecord>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// The notices of `customer_id` (every customer's when `None`), newest first, older than
/// the cursor `before`, at most `limit`, with their deliveries on `channel` (every one
/// when `None`) and their attempts: three queries whatever the page's size.
pub async fn list_notices(
    pool: &PgPool,
    customer_id: Option<&str>,
    channel: Option<Channel>,
    before: Option<i64>,
    limit: i64,
) -> Result<NoticePage, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, seq, order_id, customer_id, status, version, occurred_at
         FROM notifier.notices
         WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::bigint IS NULL OR seq < $2)
         ORDER BY seq DESC LIMIT $3",
    )
    .bind(customer_id)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut seqs = Vec::new();
    let mut notices = Vec::new();
    for row in rows.iter().take(limit as usize) {
        seqs.push(row.try_get::<i64, _>("seq")?);
        notices.push(NoticeRecord {
            id: row.try_get("id")?,
            order_id: row.try_get("order_id")?,
            customer_id: row.try_get("customer_id")?,
            status: row.try_get("status")?,
            version: row.try_get("version")?,
            occurred_at: row.try_get("occurred_at")?,
            deliveries: Vec::new(),
        });
    }
    let ids: Vec<Uuid> = notices.iter().map(|n| n.id).collect();
    let mut deliveries = deliveries_of(pool, &ids, channel).await?;
    for notice in &mut notices {
        notice.deliveries = deliveries.remove(&notice.id).unwrap_or_default();
    }
    Ok(NoticePage {
        notices,
        next_before: more.then(|| seqs.last().copied()).flatten(),
    })
}

/// The deliveries of the notices `ids`, with their attempts, by notice.
async fn deliveries_of(
    pool: &PgPool,
    ids: &[Uuid],
    channel: Option<Channel>,
) -> Result<HashMap<Uuid, Vec<DeliveryRecord>>, sqlx::Error> {
    let attempts = sqlx::query(
        "SELECT notice_id, subscription_id, attempt, at, outcome, detail
         FROM notifier.attempts WHERE notice_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut history: HashMap<(Uuid, Uuid), Vec<AttemptRecord>> = HashMap::new();
    for row in &attempts {
        let key = (row.try_get("notice_id")?, row.try_get("subscription_id")?);
        history.entry(key).or_default().push(AttemptRecord {
            attempt: row.try_get("attempt")?,
            at: row.try_get("at")?,
            outcome: row.try_get("outcome")?,
            detail: row.try_get("detail")?,
        });
    }
    let rows = sqlx::query(
        "SELECT notice_id, subscription_id, channel, state, attempts, due_at, delivered_at
         FROM notifier.deliveries
         WHERE notice_id = ANY($1) AND ($2::text IS NULL OR channel = $2)
         ORDER BY subscription_id",
    )
    .bind(ids)
    .bind(channel.map(Channel::as_str))
    .fetch_all(pool)
    .await?;
    let mut by_notice: HashMap<Uuid, Vec<DeliveryRecord>> = HashMap::new();
    for row in &rows {
        let notice_id: Uuid = row.try_get("notice_id")?;
        let subscription_id: Uuid = row.try_get("subscription_id")?;
        let state = crate::parsed(row, "state", DeliveryState::parse)?;
        by_notice
            .entry(notice_id)
            .or_default()
            .push(DeliveryRecord {
                subscription_id,
                channel: crate::parsed(row, "channel", Channel::parse)?,
                state,
                attempts: row.try_get("attempts")?,
                next_attempt_at: (state == DeliveryState::Pending)
                    .then(|| row.try_get("due_at"))
                    .transpose()?,
                delivered_at: row.try_get("delivered_at")?,
                history: history
                    .remove(&(notice_id, subscription_id))
                    .unwrap_or_default(),
            });
    }
    Ok(by_notice)
}

/// Why a retry by hand was refused.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No delivery of that notice to that subscription. Handling: 404.
    #[error("no such delivery")]
    NotFound,
    /// Only a parked delivery is retried by hand. Handling: 409 naming its state.
    #[error("the delivery is {}, not parked", .0.as_str())]
    NotParked(DeliveryState),
    /// Handling: 503 when Postgres is unreachable, else 500.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Makes the parked delivery of notice `notice_id` to `subscription_id` due now, with a
/// fresh budget of attempts (operators only: the caller checks).
pub async fn retry_parked(
    pool: &PgPool,
    notice_id: Uuid,
    subscription_id: Uuid,
) -> Result<(), RetryError> {
    let updated = sqlx::query(
        "UPDATE notifier.deliveries SET state = 'pending', attempts = 0, due_at = now(),
                last_error = NULL
         WHERE notice_id = $1 AND subscription_id = $2 AND state = 'parked'",
    )
    .bind(notice_id)
    .bind(subscription_id)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(());
    }
    let state: Option<String> = sqlx::query_scalar(
        "SELECT state FROM notifier.deliveries WHERE notice_id = $1 AND subscription_id = $2",
    )
    .bind(notice_id)
    .bind(subscription_id)
    .fetch_optional(pool)
    .await?;
    match state.as_deref().and_then(DeliveryState::parse) {
        Some(state) => Err(RetryError::NotParked(state)),
        None => Err(RetryError::NotFound),
    }
}
