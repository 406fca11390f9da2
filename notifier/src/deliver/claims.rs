//! The delivery queue in Postgres: claiming due deliveries (a lease, so a worker that
//! dies mid-send leaves them to be sent again, under the same id) and recording how each
//! attempt ended.
//!
//! Per-order order: a delivery is claimed only when no earlier version of its order is
//! still pending for the same subscription (a parked one no longer holds the line, so one
//! receiver that is down for good does not stop the rest of its order's news).

use crate::retry::Settlement;
use chrono::{DateTime, Utc};
use orderflow_outbox::Channel;
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

/// Where a claimed delivery goes.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Email { address: String },
    Webhook { url: String, secret: String },
}

impl std::fmt::Debug for Target {
    /// Never the webhook's secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Email { address } => f.debug_struct("Email").field("address", address).finish(),
            Target::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .finish_non_exhaustive(),
        }
    }
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub notice_id: Uuid,
    pub subscription_id: Uuid,
    /// The subscription's channel (kept with the delivery when it is deleted).
    pub channel: Channel,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub version: i64,
    pub occurred_at: DateTime<Utc>,
    /// The webhook body, as signed.
    pub body: String,
    pub email_subject: String,
    pub email_text: String,
    /// `None`: the subscription was deleted.
    pub target: Option<Target>,
}

impl Claimed {
    pub fn channel(&self) -> &'static str {
        self.channel.as_str()
    }
}

/// Claims up to `limit` due deliveries for `lease`, counting the attempt.
pub async fn claim(
    pool: &PgPool,
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT d.notice_id, d.subscription_id FROM notifier.deliveries d
             WHERE d.state = 'pending' AND d.due_at <= now()
               AND NOT EXISTS (
                   SELECT 1 FROM notifier.deliveries e
                   WHERE e.subscription_id = d.subscription_id AND e.order_id = d.order_id
                     AND e.state = 'pending' AND e.version < d.version)
             ORDER BY d.due_at LIMIT $1
             FOR UPDATE OF d SKIP LOCKED)
         UPDATE notifier.deliveries d
         SET due_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
         FROM due JOIN notifier.notices n ON n.id = due.notice_id
              LEFT JOIN notifier.subscriptions s ON s.id = due.subscription_id
         WHERE d.notice_id = due.notice_id AND d.subscription_id = due.subscription_id
         RETURNING d.notice_id, d.subscription_id, d.channel, d.attempts, n.order_id, n.customer_id,
                   n.status, n.version, n.occurred_at, n.body, n.email_subject, n.email_text,
                   s.target, s.secret",
    )
    .bind(limit as i64)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?;
    rows.iter().map(claimed).collect()
}

fn claimed(row: &sqlx::postgres::PgRow) -> Result<Claimed, sqlx::Error> {
    let channel = orderflow_outbox::parsed(row, "channel", Channel::parse)?;
    let target: Option<String> = row.try_get("target")?;
    let secret: Option<String> = row.try_get("secret")?;
    // No target: the subscription was deleted.
    let target = match (channel, target, secret) {
        (Channel::Email, Some(address), _) => Some(Target::Email { address }),
        (Channel::Webhook, Some(url), Some(secret)) => Some(Target::Webhook { url, secret }),
        _ => None,
    };
    Ok(Claimed {
        notice_id: row.try_get("notice_id")?,
        subscription_id: row.try_get("subscription_id")?,
        channel,
        attempt: row.try_get("attempts")?,
        order_id: row.try_get("order_id")?,
        customer_id: row.try_get("customer_id")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        occurred_at: row.try_get("occurred_at")?,
        body: row.try_get("body")?,
        email_subject: row.try_get("email_subject")?,
        email_text: row.try_get("email_text")?,
        target,
    })
}

/// How one claimed attempt ended.
#[derive(Debug, Clone)]
pub struct Settled {
    pub notice_id: Uuid,
    pub subscription_id: Uuid,
    pub attempt: i32,
    pub settlement: Settlement,
    /// What went wrong, if it did.
    pub detail: Option<String>,
}

/// Records the attempts and the deliveries' new states in one transaction. A delivery
/// whose lease ran out and that another worker claimed again (its attempt count moved on)
/// keeps that worker's state; this attempt is still recorded.
pub async fn record(pool: &PgPool, settled: &[Settled]) -> Result<(), sqlx::Error> {
    let mut c = Columns::default();
    for s in settled {
        let (state, outcome, delay) = match &s.settlement {
            Settlement::Delivered => ("delivered", Some("delivered"), 0.0),
            Settlement::Retry(delay) => ("pending", Some("failed"), delay.as_secs_f64()),
            Settlement::Park => ("parked", Some("parked"), 0.0),
            Settlement::Drop => ("dropped", None, 0.0),
        };
        c.notice.push(s.notice_id);
        c.subscription.push(s.subscription_id);
        c.attempt.push(s.attempt);
        c.state.push(state);
        c.outcome.push(outcome);
        c.delay.push(delay);
        c.detail.push(s.detail.as_deref());
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO notifier.attempts (notice_id, subscription_id, attempt, outcome, detail)
         SELECT notice, subscription, attempt, outcome, detail
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[])
              AS v(notice, subscription, attempt, outcome, detail)
         WHERE outcome IS NOT NULL",
    )
    .bind(&c.notice)
    .bind(&c.subscription)
    .bind(&c.attempt)
    .bind(&c.outcome)
    .bind(&c.detail)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE notifier.deliveries d
         SET state = v.state,
             due_at = CASE WHEN v.state = 'pending' THEN now() + make_interval(secs => v.delay)
                           ELSE d.due_at END,
             delivered_at = CASE WHEN v.state = 'delivered' THEN now() END,
             last_error = v.detail
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::float8[], $6::text[])
              AS v(notice, subscription, attempt, state, delay, detail)
         WHERE d.notice_id = v.notice AND d.subscription_id = v.subscription
           AND d.attempts = v.attempt AND d.state = 'pending'",
    )
    .bind(&c.notice)
    .bind(&c.subscription)
    .bind(&c.attempt)
    .bind(&c.state)
    .bind(&c.delay)
    .bind(&c.detail)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[derive(Default)]
struct Columns<'a> {
    notice: Vec<Uuid>,
    subscription: Vec<Uuid>,
    attempt: Vec<i32>,
    state: Vec<&'a str>,
    outcome: Vec<Option<&'a str>>,
    delay: Vec<f64>,
    detail: Vec<Option<&'a str>>,
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_webhooks_secret_never_shows() {
        let target = Target::Webhook {
            url: "https://hooks.example.com".into(),
            secret: "5ec2e7".into(),
        };
        let shown = format!("{target:?}");
        assert!(
            shown.contains("hooks.example.com") && !shown.contains("5ec2e7"),
            "{shown}"
        );
    }
}
