//! Typed settings of the notifier: defaults for the local stack, every one overridable by
//! flag or environment variable.

use crate::smtp::SmtpSettings;
use orderflow_platform::{HttpSettings, KafkaSettings, MetricsSettings};
use orderflow_schemas::RegistryArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the notifier needs to run.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "notifier",
    about = "orderflow notifier (order log → email and signed webhooks, through a Postgres outbox)"
)]
pub struct Settings {
    /// Address `/healthz`, `/readyz` and `/metrics` listen on.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_LISTEN",
        default_value = "127.0.0.1:8093"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// The order log.
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    pub topic: String,
    /// The notifier's consumer group (its own: it folds the whole log for itself).
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_GROUP",
        default_value = "orderflow-notifier"
    )]
    pub group: String,
    /// Where what was delivered is published (Avro `NotificationSent`).
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_OUTBOUND_TOPIC",
        default_value = "notifications.outbound"
    )]
    pub outbound_topic: String,
    /// Where a delivery goes once its last attempt failed.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_DLQ_TOPIC",
        default_value = "notifications.dlq"
    )]
    pub dlq_topic: String,
    /// PostgreSQL holding the outbox (schema `notifier`, in the read model's database).
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://orderflow_notifier@127.0.0.1:5432/orderflow"
    )]
    pub database_url: String,
    /// The query API's Postgres role, granted managing subscriptions and reading delivery
    /// records (nothing else); skipped with a warning if there is no such role.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_API_ROLE",
        default_value = "orderflow_query"
    )]
    pub api_role: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The SMTP server: `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465`, or
    /// `smtp://127.0.0.1:1025` (plain, a local catcher only). May hold credentials.
    #[arg(
        long = "smtp-url",
        env = "ORDERFLOW_SMTP_URL",
        hide_env_values = true,
        default_value = "smtp://127.0.0.1:1025"
    )]
    pub smtp_url: String,
    /// The sender of every email.
    #[arg(
        long = "smtp-from",
        env = "ORDERFLOW_SMTP_FROM",
        default_value = "orderflow <orders@orderflow.local>"
    )]
    pub smtp_from: String,
    /// A PEM file of the CA that signed the SMTP server's certificate, if not a public one.
    #[arg(long = "smtp-ca-file", env = "ORDERFLOW_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// The query API's public address, for the tracking link of each email.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_TRACKING_BASE",
        default_value = "http://127.0.0.1:8090"
    )]
    pub tracking_base: String,
    /// Most records folded in one Postgres transaction.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_BATCH_MAX_RECORDS",
        default_value_t = 1000
    )]
    pub batch_max_records: usize,
    /// Delivery workers: each claims and sends on its own, so a slow receiver holds up one
    /// worker's claim at most.
    #[arg(long, env = "ORDERFLOW_NOTIFIER_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// Most deliveries one claim takes (and sends at once).
    #[arg(long, env = "ORDERFLOW_NOTIFIER_CLAIM", default_value_t = 64)]
    pub claim: usize,
    /// Attempts of a delivery before it is parked on the dead-letter topic. With the
    /// default backoff, 12 attempts span up to about 50 minutes (half on average).
    #[arg(long, env = "ORDERFLOW_NOTIFIER_MAX_ATTEMPTS", default_value_t = 12)]
    pub max_attempts: u32,
    /// The first retry's ceiling, in milliseconds; it doubles with each retry (with full
    /// jitter) up to the cap.
    #[arg(long, env = "ORDERFLOW_NOTIFIER_RETRY_BASE_MS", default_value_t = 5000)]
    pub retry_base_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_RETRY_CAP_MS",
        default_value_t = 600_000
    )]
    pub retry_cap_ms: u64,
    /// How long a claimed delivery is held before another worker may send it again (a
    /// worker that died mid-send), in milliseconds. Longer than a send can take.
    #[arg(long, env = "ORDERFLOW_NOTIFIER_LEASE_MS", default_value_t = 60_000)]
    pub lease_ms: u64,
    /// How long one webhook or email send may take, in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFIER_SEND_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub send_timeout_ms: u64,
    /// How often idle workers look for deliveries that came due, in milliseconds (new
    /// notices wake them at once).
    #[arg(long, env = "ORDERFLOW_NOTIFIER_POLL_MS", default_value_t = 500)]
    pub poll_ms: u64,
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub metrics: MetricsSettings,
}

impl Settings {
    pub fn smtp(&self) -> SmtpSettings {
        SmtpSettings {
            url: self.smtp_url.clone(),
            from: self.smtp_from.clone(),
            ca_file: self.smtp_ca_file.clone(),
        }
    }

    pub fn retry_base(&self) -> Duration {
        Duration::from_millis(self.retry_base_ms)
    }

    pub fn retry_cap(&self) -> Duration {
        Duration::from_millis(self.retry_cap_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }
}
