//! Typed settings of the fulfilment service: defaults for the local stack, every one
//! overridable by flag or environment variable. Secrets (the Stripe key, the database
//! password, the token file's content) never show in `--help` or the logs.

use crate::processor::StripeSettings;
use orderflow_auth::AuthSettings;
use orderflow_platform::{HttpSettings, KafkaSettings, MetricsSettings};
use orderflow_schemas::RegistryArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the fulfilment service needs to run.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "fulfilment",
    about = "orderflow fulfilment (stock and payment logs, Stripe, and the process manager that confirms or rejects orders)"
)]
pub struct Settings {
    /// Address the stock API, `/healthz`, `/readyz` and `/metrics` listen on.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_LISTEN",
        default_value = "127.0.0.1:8094"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// The order log.
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    pub orders_topic: String,
    /// The stock log.
    #[arg(
        long,
        env = "ORDERFLOW_INVENTORY_TOPIC",
        default_value = "inventory.events"
    )]
    pub inventory_topic: String,
    /// The payment log.
    #[arg(
        long,
        env = "ORDERFLOW_PAYMENTS_TOPIC",
        default_value = "payments.events"
    )]
    pub payments_topic: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// PostgreSQL holding the fulfilment read model (schema `fulfilment`, in the read
    /// model's database).
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://orderflow_fulfilment@127.0.0.1:5432/orderflow"
    )]
    pub database_url: String,
    /// The query API's Postgres role, granted reading stock and sagas.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_API_ROLE",
        default_value = "orderflow_query"
    )]
    pub api_role: String,
    /// The command service, which takes the confirmations and rejections.
    #[arg(
        long,
        env = "ORDERFLOW_COMMAND_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub command_url: String,
    /// A file holding a bearer token with the role `fulfilment`, for the command service;
    /// read at every call, so it can be rotated in place. None when auth is off.
    #[arg(long, env = "ORDERFLOW_FULFILMENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Stripe's API: `https://api.stripe.com`, or stripe-mock's address.
    #[arg(
        long,
        env = "ORDERFLOW_STRIPE_URL",
        default_value = "http://127.0.0.1:12111"
    )]
    pub stripe_url: String,
    /// Stripe's secret key. stripe-mock takes any `sk_test_` key.
    #[arg(
        long,
        env = "ORDERFLOW_STRIPE_SECRET_KEY",
        hide_env_values = true,
        default_value = "sk_test_orderflowlocal"
    )]
    pub stripe_secret_key: String,
    /// How long one call to Stripe or to the command service may take, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_CALL_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub call_timeout_ms: u64,
    /// How long an authorization is retried (timeouts, 5xx) before it is recorded as
    /// unanswered and the order rejected, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_AUTHORIZE_DEADLINE_MS",
        default_value_t = 30_000
    )]
    pub authorize_deadline_ms: u64,
    /// A saga step that stays next for longer than this is stuck, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_STUCK_AFTER_MS",
        default_value_t = 120_000
    )]
    pub stuck_after_ms: u64,
    /// How long a stock or payment command waits for its read-back, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_FULFILMENT_LEDGER_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub ledger_timeout_ms: u64,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub metrics: MetricsSettings,
}

impl Settings {
    /// Settings for a stack at the given addresses, everything else at its default; used
    /// by tests and tools that embed the service.
    pub fn for_stack(brokers: &str, registry_url: &str, database_url: &str) -> Self {
        Settings {
            listen: ([127, 0, 0, 1], 0).into(),
            kafka: KafkaSettings::new(brokers),
            orders_topic: "orders.events".into(),
            inventory_topic: "inventory.events".into(),
            payments_topic: "payments.events".into(),
            registry: RegistryArgs::new(registry_url),
            database_url: database_url.into(),
            api_role: "orderflow_query".into(),
            command_url: "http://127.0.0.1:8080".into(),
            token_file: None,
            stripe_url: "http://127.0.0.1:12111".into(),
            stripe_secret_key: "sk_test_orderflowlocal".into(),
            call_timeout_ms: 5_000,
            authorize_deadline_ms: 30_000,
            stuck_after_ms: 120_000,
            ledger_timeout_ms: 10_000,
            auth: AuthSettings::with_jwks(orderflow_auth::DEV_JWKS),
            http: HttpSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }

    pub fn stripe(&self) -> StripeSettings {
        StripeSettings {
            url: self.stripe_url.clone(),
            secret_key: self.stripe_secret_key.clone(),
            timeout: self.call_timeout(),
        }
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    pub fn authorize_deadline(&self) -> Duration {
        Duration::from_millis(self.authorize_deadline_ms)
    }

    pub fn stuck_after(&self) -> Duration {
        Duration::from_millis(self.stuck_after_ms)
    }

    pub fn ledger_timeout(&self) -> Duration {
        Duration::from_millis(self.ledger_timeout_ms)
    }
}

#[cfg(test)]
mod cli_tests {
    use super::Settings;
    use clap::CommandFactory;

    #[test]
    fn the_settings_are_a_valid_command_line() {
        Settings::command().debug_assert();
    }
}
