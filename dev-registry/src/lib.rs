//! A Confluent-compatible Schema Registry for **development and tests only**.
//!
//! orderflow's services speak the Confluent wire format (magic byte + 4-byte schema id)
//! and talk to a schema registry over Confluent's REST API. In production that registry
//! is Confluent Schema Registry. This crate is a small stand-in for local stacks and
//! integration tests: it implements the subset of the API that Confluent's clients use
//! for Avro (register, look up, fetch by id, versions, deletes, compatibility levels and
//! checks), stores everything in Postgres so schema ids survive restarts, and is verified
//! against Confluent's own Python client. It has no authentication, no schema references,
//! no JSON Schema or Protobuf, and no clustering — do not deploy it.
//!
//! Module layout:
//! - [`settings`]: CLI/env settings (`REGISTRY_LISTEN`, `REGISTRY_DATABASE_URL`) and the pool.
//! - [`http`]: routes and the Confluent request/response conventions.
//! - [`store`]: Postgres persistence (tables in the `schema_registry` schema), migrations,
//!   and per-subject serialisation of writes.
//! - [`schema`]: request validation and schema identity.
//! - [`level`] / [`compat`]: compatibility levels and the (pure) compatibility decision.
//! - [`error`]: the single error type and its mapping to Confluent error bodies.

pub mod compat;
pub mod error;
pub mod http;
pub mod level;
pub mod schema;
pub mod settings;
pub mod store;

use std::future::Future;

use sqlx::PgPool;
use tokio::net::TcpListener;

pub use error::Error;
pub use http::{AppState, router};
pub use level::CompatibilityLevel;
pub use settings::{Settings, connect};
pub use store::Store;

/// Migrates the database, then serves the registry on `listener` until `shutdown`
/// completes, letting in-flight requests finish.
///
/// The caller owns the socket and the pool, so tests can bind port 0 and point the
/// registry at a throwaway database, and `main` decides what "shutdown" means.
pub async fn run(
    listener: TcpListener,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = Store::new(pool);
    store.migrate().await?;
    let app = router(AppState::new(store));
    tracing::info!(
        addr = %listener.local_addr()?,
        "dev schema registry listening (development and tests only)"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("dev schema registry stopped");
    Ok(())
}
