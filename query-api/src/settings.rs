//! Typed settings of the query API: defaults for the local stack, every one overridable by
//! flag or environment variable.

use orderflow_auth::AuthSettings;
use orderflow_platform::{HttpSettings, MetricsSettings};
use orderflow_read_model::READ_SCHEMA;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the query API needs to run.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "query-api",
    about = "orderflow query API (Postgres and Redis read models → REST)"
)]
pub struct Settings {
    /// Address the REST API listens on.
    #[arg(long, env = "ORDERFLOW_QUERY_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// PostgreSQL holding the projector's read model (read only from here).
    #[arg(
        long,
        env = "ORDERFLOW_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://orderflow_query@127.0.0.1:5432/orderflow"
    )]
    pub database_url: String,
    /// Most pooled Postgres connections (the notification listener has one of its own).
    #[arg(long, env = "ORDERFLOW_QUERY_DB_CONNECTIONS", default_value_t = 10)]
    pub database_connections: u32,
    /// Longest wait for a pooled connection before a request answers 503.
    #[arg(long, env = "ORDERFLOW_QUERY_DB_TIMEOUT_MS", default_value_t = 2_000)]
    pub database_timeout_ms: u64,
    /// Redis holding the order cache.
    #[arg(
        long,
        env = "ORDERFLOW_REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Schema of the projector's reader views, which always show the live generation of
    /// the read model (`orderflow_read`); the Redis key prefix of that generation is read
    /// from it too.
    #[arg(long, env = "ORDERFLOW_READ_SCHEMA", default_value = READ_SCHEMA)]
    pub read_schema: String,
    /// Time to live of an order this API writes to the cache, in seconds.
    #[arg(long, env = "ORDERFLOW_REDIS_TTL_SECS", default_value_t = 86_400)]
    pub redis_ttl_secs: u64,
    /// Longest time one cache read or write may take before the request goes on without
    /// it: Redis is an accelerator, never a reason to be slow.
    #[arg(long, env = "ORDERFLOW_QUERY_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub redis_timeout_ms: u64,
    /// Live streams open at once (`GET /orders/{id}/events`, `GET /events`); one more is a
    /// 503 with `Retry-After`.
    #[arg(long, env = "ORDERFLOW_QUERY_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: usize,
    /// Changes a stream's client may be behind before it is dropped (with an `end` event;
    /// it reconnects with its `Last-Event-ID`).
    #[arg(long, env = "ORDERFLOW_QUERY_STREAM_BUFFER", default_value_t = 256)]
    pub stream_buffer: usize,
    /// Seconds between heartbeats on a quiet stream.
    #[arg(
        long,
        env = "ORDERFLOW_QUERY_STREAM_HEARTBEAT_SECS",
        default_value_t = 15
    )]
    pub stream_heartbeat_secs: u64,
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub metrics: MetricsSettings,
}

impl Settings {
    /// Settings for a stack at the given addresses, everything else at its default. Used by
    /// tests and tools that embed the service.
    pub fn for_stack(database_url: &str, redis_url: &str) -> Self {
        Settings {
            listen: ([127, 0, 0, 1], 0).into(),
            database_url: database_url.to_owned(),
            database_connections: 10,
            database_timeout_ms: 2_000,
            redis_url: redis_url.to_owned(),
            read_schema: READ_SCHEMA.to_owned(),
            redis_ttl_secs: 86_400,
            redis_timeout_ms: 50,
            max_streams: 10_000,
            stream_buffer: 256,
            stream_heartbeat_secs: 15,
            http: HttpSettings::default(),
            auth: AuthSettings::with_jwks(orderflow_auth::DEV_JWKS),
            metrics: MetricsSettings::default(),
        }
    }

    pub(crate) fn database_timeout(&self) -> Duration {
        Duration::from_millis(self.database_timeout_ms)
    }

    pub(crate) fn redis_ttl(&self) -> Duration {
        Duration::from_secs(self.redis_ttl_secs)
    }

    pub(crate) fn streams(&self) -> crate::streams::StreamSettings {
        crate::streams::StreamSettings {
            max_streams: self.max_streams,
            buffer: self.stream_buffer,
            heartbeat_secs: self.stream_heartbeat_secs,
        }
    }

    pub(crate) fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }
}

#[cfg(test)]
mod cli_tests {
    use super::Settings;
    use clap::CommandFactory;

    /// clap checks its own rules (unique ids across flattened groups, …) only here or at
    /// run time: a clash would panic the binary before `main` does anything.
    #[test]
    fn the_settings_are_a_valid_command_line() {
        Settings::command().debug_assert();
    }
}
