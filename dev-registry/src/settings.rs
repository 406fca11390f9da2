//! Command-line / environment configuration and the database pool it describes.

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::error::Error;

/// Where the shared local Postgres lives in the project's dev stack.
pub const DEFAULT_DATABASE_URL: &str = "postgres://orderflow:orderflow@127.0.0.1:5432/orderflow";

/// Runtime settings; every flag can also come from its environment variable.
#[derive(Clone, clap::Parser)]
#[command(
    name = "orderflow-dev-registry",
    version,
    about = "Confluent-compatible Avro schema registry for development and tests only"
)]
pub struct Settings {
    /// Address to listen on. Confluent's port, loopback only by default.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    /// Postgres database holding the `schema_registry` schema (created if missing).
    #[arg(long, env = "REGISTRY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
}

// Hand-written so the database password never lands in logs.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &"<redacted>")
            .finish()
    }
}

impl Settings {
    /// Opens a connection pool to [`Settings::database_url`].
    pub async fn connect(&self) -> Result<PgPool, Error> {
        connect(&self.database_url).await
    }
}

/// Opens a small pool: a dev registry sees a handful of clients. The short acquire
/// timeout turns "Postgres is down" into a prompt 50001 instead of a hung client.
pub async fn connect(database_url: &str) -> Result<PgPool, Error> {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_match_confluent_port_and_dev_stack() {
        let settings = Settings::try_parse_from(["orderflow-dev-registry"]).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8081".parse().unwrap());
        // Only meaningful when the developer's environment does not override it.
        if std::env::var_os("REGISTRY_DATABASE_URL").is_none() {
            assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
        }
        assert!(!format!("{settings:?}").contains("orderflow:orderflow"));
    }

    #[test]
    fn flags_override_defaults() {
        let settings = Settings::try_parse_from([
            "orderflow-dev-registry",
            "--listen",
            "0.0.0.0:9000",
            "--database-url",
            "postgres://x@y/z",
        ])
        .unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.database_url, "postgres://x@y/z");
    }
}
