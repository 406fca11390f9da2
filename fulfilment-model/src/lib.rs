//! The fulfilment read model (ADR 0016): what the fulfilment service and the query API
//! agree on.
//!
//! The fulfilment service folds `inventory.events` and drives the sagas; it writes each
//! product's stock level and each saga's stage into the tables of the Postgres schema
//! [`SCHEMA`] (`fulfilment`, in the read model's database), in batches. The query API
//! serves them through the queries here.
//!
//! Layout:
//! - `migrations/` and [`migrate`]: the tables, and the query API's `SELECT` on them;
//! - `stock`: [`StockLevel`], written by [`upsert_stock`], read by [`stock_level`] and
//!   [`list_stock`];
//! - `sagas`: [`SagaRow`], written by [`upsert_sagas`], read by [`list_sagas`].

mod sagas;
mod stock;

pub use sagas::{SagaRow, list_sagas, upsert_sagas};
pub use stock::{StockLevel, list_stock, stock_level, upsert_stock};

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

/// The tables (every name qualified with [`SCHEMA`]).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The Postgres schema of the fulfilment read model.
pub const SCHEMA: &str = "fulfilment";

/// Creates the schema and its tables (or brings them up to date), and grants `api_role`
/// (the query API's login role) reading them. A role that does not exist is left out with
/// a warning in the result: a stack without per-service roles runs everything as one.
pub async fn migrate(pool: &PgPool, api_role: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .execute(pool)
        .await?;
    // The migrator keeps its history in the first schema of the search path: this one.
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
            "role {api_role} does not exist: the query API cannot read stock and sagas"
        )));
    }
    let role = format!("\"{}\"", api_role.replace('"', "\"\""));
    for grant in [
        format!("GRANT USAGE ON SCHEMA {SCHEMA} TO {role}"),
        format!("GRANT SELECT ON {SCHEMA}.stock, {SCHEMA}.sagas TO {role}"),
    ] {
        sqlx::query(&grant).execute(pool).await?;
    }
    Ok(None)
}
