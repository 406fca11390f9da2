//! Typed settings of the command service: defaults for the local stack, every one
//! overridable by flag or environment variable.

use orderflow_auth::AuthSettings;
use orderflow_platform::{HttpSettings, KafkaSettings, LogSettings, MetricsSettings};
use orderflow_schemas::RegistryArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the command service needs to run.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "command-service",
    about = "orderflow command service (REST → Kafka)"
)]
pub struct Settings {
    /// Address the REST API listens on.
    #[arg(
        long,
        env = "ORDERFLOW_COMMAND_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    #[command(flatten)]
    pub log: LogSettings,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How long a command may wait for its event to be appended and read back.
    #[arg(long, env = "ORDERFLOW_COMMAND_TIMEOUT_MS", default_value_t = 10_000)]
    pub command_timeout_ms: u64,
    #[command(flatten)]
    pub http: HttpSettings,
    /// Most location updates one order may take; past it, 409.
    #[arg(
        long,
        env = "ORDERFLOW_MAX_LOCATIONS_PER_ORDER",
        default_value_t = 1_000
    )]
    pub max_locations_per_order: u32,
    /// The consumer group the instances share the log's partitions in (ADR 0015);
    /// `orderflow-command-service.<topic>` when not set, so services of different logs
    /// never rebalance each other.
    #[arg(long, env = "ORDERFLOW_COMMAND_GROUP")]
    pub group: Option<String>,
    /// The base URL other instances reach this one at (its `client.id` in the group);
    /// `http://<listen address>` when not set (on Kubernetes: the pod's IP).
    #[arg(long, env = "ORDERFLOW_COMMAND_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Whether orders wait for the fulfilment service to reserve their stock and authorize
    /// their payment (`pending` until it confirms or rejects them). Off, orders are
    /// accepted as placed, as before fulfilment existed. Turn it on only where the
    /// fulfilment service runs (ADR 0016).
    #[arg(long, env = "ORDERFLOW_FULFILMENT", default_value_t = false, action = clap::ArgAction::Set)]
    pub fulfilment: bool,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub metrics: MetricsSettings,
}

impl Settings {
    /// Settings for a stack at the given addresses, everything else at its default. Used by
    /// tests and tools that embed the service.
    pub fn for_stack(brokers: &str, registry_url: &str, topic: &str) -> Self {
        Settings {
            listen: ([127, 0, 0, 1], 0).into(),
            kafka: KafkaSettings::new(brokers),
            log: LogSettings::new(topic),
            registry: RegistryArgs::new(registry_url),
            command_timeout_ms: 10_000,
            http: HttpSettings::default(),
            max_locations_per_order: 1_000,
            group: None,
            advertise_url: None,
            fulfilment: false,
            auth: AuthSettings::with_jwks(orderflow_auth::DEV_JWKS),
            metrics: MetricsSettings::default(),
        }
    }

    /// The consumer group of the instances on this log.
    pub(crate) fn group(&self) -> String {
        self.group
            .clone()
            .unwrap_or_else(|| format!("orderflow-command-service.{}", self.log.topic))
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
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
