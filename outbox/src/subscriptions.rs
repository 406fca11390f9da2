//! Subscriptions: who is told about which orders, and how.
//!
//! - An **email** subscription sends one customer's notices to an address.
//! - A **webhook** subscription POSTs signed notices to a URL, for one customer's orders or
//!   for every order (`customer_id` absent). Its secret is made here, shown once when it
//!   is created, and never listed again.

use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// How a subscription is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        match text {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// A subscription to create, as the API received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub channel: Channel,
    /// Whose orders; `None` for a webhook that hears about every order.
    pub customer_id: Option<String>,
    /// The address (email) or the URL (webhook).
    pub target: String,
    /// Who created it (the token's subject).
    pub created_by: String,
}

/// Why a subscription is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The address is not one mail can go to. Handling: 422 naming `address`.
    #[error("is not an email address (local@domain, at most 254 characters)")]
    Address,
    /// The URL is not an absolute http(s) URL without credentials. Handling: 422 `url`.
    #[error("is not an absolute http or https URL without user or password")]
    Url,
    /// An email subscription needs its customer. Handling: 422 naming `customer_id`.
    #[error("is required for an email subscription")]
    EmailWithoutCustomer,
}

impl NewSubscription {
    /// Checks the target against the channel.
    pub fn check(&self) -> Result<(), SubscriptionError> {
        match self.channel {
            Channel::Email if self.customer_id.is_none() => {
                Err(SubscriptionError::EmailWithoutCustomer)
            }
            Channel::Email if !is_email_address(&self.target) => Err(SubscriptionError::Address),
            Channel::Webhook if !is_webhook_url(&self.target) => Err(SubscriptionError::Url),
            _ => Ok(()),
        }
    }
}

/// A conservative check: what lettre's parser and every server accept (`local@domain`,
/// printable, no spaces), not the whole of RFC 5322.
fn is_email_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\')
        })
        && !domain.contains('@')
}

fn is_webhook_url(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    text.len() <= 2048
        && matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
}

/// A stored subscription, as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    pub channel: Channel,
    /// Whose orders; absent for a webhook that hears about every order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The email address or the webhook URL.
    pub target: String,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A new random secret: 32 bytes, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const COLUMNS: &str = "id, channel, customer_id, target, created_by, created_at";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<Subscription, sqlx::Error> {
    Ok(Subscription {
        id: row.try_get("id")?,
        channel: crate::parsed(row, "channel", Channel::parse)?,
        customer_id: row.try_get("customer_id")?,
        target: row.try_get("target")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Most subscriptions one customer may have: every one is a copy of each of its notices.
pub const MAX_PER_CUSTOMER: i64 = 20;

/// Why a subscription was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The same channel and target for the same customer(s) exists. Handling: 409 naming it.
    #[error("already subscribed: subscription {0}")]
    Duplicate(Uuid),
    /// The customer has [`MAX_PER_CUSTOMER`] subscriptions. Handling: 409.
    #[error("a customer may have at most {MAX_PER_CUSTOMER} subscriptions")]
    Limit,
    /// Handling: 503 when Postgres is unreachable, else 500.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Stores `new` (checked by the caller with [`NewSubscription::check`]) under a new id;
/// a webhook gets a new secret, returned here once.
pub async fn create(
    pool: &PgPool,
    new: &NewSubscription,
) -> Result<(Subscription, Option<String>), CreateError> {
    let secret = (new.channel == Channel::Webhook).then(new_secret);
    // The limit is checked in the insert: two concurrent creations may both pass it, which
    // a limit against runaway copies tolerates.
    let row = sqlx::query(&format!(
        "INSERT INTO notifier.subscriptions (id, channel, customer_id, target, secret, created_by)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE $3::text IS NULL
            OR (SELECT count(*) FROM notifier.subscriptions WHERE customer_id = $3) < $7
         ON CONFLICT DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.channel.as_str())
    .bind(&new.customer_id)
    .bind(&new.target)
    .bind(&secret)
    .bind(&new.created_by)
    .bind(MAX_PER_CUSTOMER)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = row {
        return Ok((from_row(&row)?, secret));
    }
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM notifier.subscriptions
         WHERE channel = $1 AND coalesce(customer_id, '') = coalesce($2, '') AND target = $3",
    )
    .bind(new.channel.as_str())
    .bind(&new.customer_id)
    .bind(&new.target)
    .fetch_optional(pool)
    .await?;
    Err(existing.map_or(CreateError::Limit, CreateError::Duplicate))
}

/// The subscription `id`, if it exists.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifier.subscriptions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The subscriptions of `customer_id` (every one when `None`) on `channel` (every one
/// when `None`), oldest first, at most `limit`.
pub async fn list(
    pool: &PgPool,
    customer_id: Option<&str>,
    channel: Option<Channel>,
    limit: i64,
) -> Result<Vec<Subscription>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifier.subscriptions
         WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR channel = $2)
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(customer_id)
    .bind(channel.map(Channel::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes the subscription `id`; whether it existed. Its pending deliveries are dropped
/// by the notifier when their turn comes (their records stay).
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notifier.subscriptions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(channel: Channel, customer: Option<&str>, target: &str) -> NewSubscription {
        NewSubscription {
            channel,
            customer_id: customer.map(str::to_owned),
            target: target.to_owned(),
            created_by: "ops-1".into(),
        }
    }

    #[test]
    fn an_email_subscription_needs_a_customer_and_an_address() {
        use SubscriptionError as E;
        let table = [
            (Some("c-1"), "ann@example.com", Ok(())),
            (None, "ann@example.com", Err(E::EmailWithoutCustomer)),
            (Some("c-1"), "ann", Err(E::Address)),
            (Some("c-1"), "ann@localhost", Err(E::Address)),
            (Some("c-1"), "ann smith@example.com", Err(E::Address)),
            (Some("c-1"), "<ann@example.com>", Err(E::Address)),
            (Some("c-1"), "@example.com", Err(E::Address)),
        ];
        for (customer, address, expected) in table {
            assert_eq!(
                new(Channel::Email, customer, address).check(),
                expected,
                "{address}"
            );
        }
    }

    #[test]
    fn a_webhook_needs_an_absolute_http_url_without_credentials() {
        let table = [
            ("https://hooks.example.com/orders", true),
            ("http://127.0.0.1:9000/hook", true),
            ("ftp://hooks.example.com/", false),
            ("https://user:pw@hooks.example.com/", false),
            ("/relative", false),
            ("not a url", false),
        ];
        for (url, accepted) in table {
            let checked = new(Channel::Webhook, None, url).check();
            assert_eq!(checked.is_ok(), accepted, "{url}: {checked:?}");
        }
    }

    #[test]
    fn secrets_are_new_each_time_and_long() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
