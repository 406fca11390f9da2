//! The notifier's outbox (ADR 0014): what the notifier and the query API agree on.
//!
//! The notifier folds the order log into the tables of the Postgres schema [`SCHEMA`]
//! (`notifier`, in the read model's database) and delivers from them; the query API
//! manages the subscriptions and lists what was sent, through the same queries.
//!
//! Layout:
//! - `migrations/` and [`migrate`]: the tables, and what the query API's role is granted;
//! - `subscriptions`: who is told ([`Subscription`]): the checks of a new one, its secret,
//!   and the queries that create, list and delete them;
//! - `records`: what was sent: each customer's notices with their deliveries and every
//!   attempt ([`NoticeRecord`]), and the retry by hand of a parked delivery.

mod records;
mod subscriptions;

pub use records::{
    AttemptRecord, DeliveryRecord, DeliveryState, NoticePage, NoticeRecord, RetryError,
    list_notices, retry_parked,
};
pub use subscriptions::{
    Channel, CreateError, MAX_PER_CUSTOMER, NewSubscription, Subscription, SubscriptionError,
    create, delete, get, list,
};

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

/// The outbox's tables (every name qualified with [`SCHEMA`]).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The Postgres schema of the outbox.
pub const SCHEMA: &str = "notifier";

/// Creates the schema and its tables (or brings them up to date), and grants `api_role`
/// (the query API's login role) what managing subscriptions and listing deliveries needs,
/// and nothing else. A role that does not exist is left out with a warning in the result:
/// a stack without per-service roles runs everything as one.
pub async fn migrate(pool: &PgPool, api_role: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .execute(pool)
        .await?;
    // The migrator keeps its history in the first schema of the search path: the outbox's
    // own, whatever the pool's default (the role may create nothing elsewhere).
    let options = (*pool.connect_options())
        .clone()
        .options([("search_path", SCHEMA)]);
    let migrating = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let migrated = MIGRATOR.run(&migrating).await;
    migrating.close().await;
    migrated?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(api_role)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(Some(format!(
            "role {api_role} does not exist: the query API cannot manage subscriptions"
        )));
    }
    let role = quote_ident(api_role);
    for grant in [
        format!("GRANT USAGE ON SCHEMA {SCHEMA} TO {role}"),
        // Every column but the secret, which only the notifier reads.
        format!(
            "GRANT SELECT (id, channel, customer_id, target, created_by, created_at), INSERT, DELETE
             ON {SCHEMA}.subscriptions TO {role}"
        ),
        format!("GRANT SELECT ON {SCHEMA}.notices, {SCHEMA}.attempts TO {role}"),
        format!(
            "GRANT SELECT, UPDATE (state, attempts, due_at, last_error) ON {SCHEMA}.deliveries TO {role}"
        ),
    ] {
        sqlx::query(&grant).execute(pool).await?;
    }
    Ok(None)
}

/// Column `column` of `row`, read as text and parsed with `parse`; a decoding error names
/// the column and the text when the text is not one the code knows.
pub fn parsed<T>(
    row: &sqlx::postgres::PgRow,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown {column} {text:?}").into(),
    })
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
