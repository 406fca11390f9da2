//! Typed settings of the projector: defaults for the local stack, every one overridable by
//! flag or environment variable.

use orderflow_platform::{HttpSettings, KafkaSettings, LogSettings, MetricsSettings};
use orderflow_schemas::RegistryArgs;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the projector needs to run.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address `/healthz`, `/readyz` and `/metrics` listen on.
    #[arg(
        long,
        env = "ORDERFLOW_PROJECTOR_LISTEN",
        default_value = "127.0.0.1:8091"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    #[command(flatten)]
    pub log: LogSettings,
    /// Consumer group the projector instances share the partitions in.
    #[arg(
        long,
        env = "ORDERFLOW_PROJECTOR_GROUP",
        default_value = "orderflow-projector"
    )]
    pub group: String,
    /// Dead-letter topic for poison records; `<topic>.dlq` when not set.
    #[arg(long, env = "ORDERFLOW_DLQ_TOPIC")]
    pub dlq_topic: Option<String>,
    /// PostgreSQL holding the read model and the consumed offsets.
    #[arg(
        long,
        env = "ORDERFLOW_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://orderflow_projector@127.0.0.1:5432/orderflow"
    )]
    pub database_url: String,
    /// Redis holding the order cache.
    #[arg(
        long,
        env = "ORDERFLOW_REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Prefix of every Redis key the projector writes.
    #[arg(long, env = "ORDERFLOW_REDIS_PREFIX", default_value = "orderflow:")]
    pub redis_prefix: String,
    /// Time to live of a cached order, in seconds.
    #[arg(long, env = "ORDERFLOW_REDIS_TTL_SECS", default_value_t = 86_400)]
    pub redis_ttl_secs: u64,
    /// Longest time one batch may spend writing to Redis before it is given up.
    #[arg(long, env = "ORDERFLOW_REDIS_TIMEOUT_MS", default_value_t = 200)]
    pub redis_timeout_ms: u64,
    /// Postgres role granted reading the reader views (the query API's role is a member)
    /// each time a switch re-creates them; skipped with a warning if there is no such role.
    /// Empty: grant to no one.
    #[arg(
        long,
        env = "ORDERFLOW_READER_ROLE",
        default_value = "orderflow_reader"
    )]
    pub reader_role: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Most records folded in one Postgres transaction.
    #[arg(
        long,
        env = "ORDERFLOW_PROJECTOR_BATCH_MAX_RECORDS",
        default_value_t = 2000
    )]
    pub batch_max_records: usize,
    /// Longest a batch keeps filling once its first record is in, in milliseconds (a batch
    /// goes as soon as no further record is waiting, so this bounds a steady trickle).
    #[arg(
        long,
        env = "ORDERFLOW_PROJECTOR_BATCH_MAX_WAIT_MS",
        default_value_t = 20
    )]
    pub batch_max_wait_ms: u64,
    /// Batch loops writing to Postgres at once, each on its own connection with its own
    /// share of the partitions (partition `p` to loop `p % writers`). More than the
    /// partitions an instance owns leaves loops idle.
    #[arg(long, env = "ORDERFLOW_PROJECTOR_WRITERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub writers: u16,
    /// Limits of the health endpoint's server.
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub metrics: MetricsSettings,
}

impl Settings {
    /// Refuses settings the projector cannot honour. Cooperative rebalancing is one: a
    /// rebalance drops the batch being cut, and under the cooperative protocol the
    /// partitions this instance keeps are not fetched again, so their dropped records would
    /// be skipped. The eager protocol (the default) re-assigns them at the stored offsets.
    pub fn check(&self) -> Result<(), String> {
        // The effective value: `--kafka-property` over the `--kafka-config-file`.
        let cooperative = self
            .kafka
            .property("partition.assignment.strategy")
            .is_some_and(|v| v.contains("cooperative"));
        if cooperative {
            return Err("partition.assignment.strategy must be an eager strategy (range or roundrobin); cooperative-sticky is not supported".into());
        }
        Ok(())
    }

    /// Settings for a stack at the given addresses, everything else at its default. Used by
    /// tests and tools that embed the projector.
    pub fn for_stack(
        brokers: &str,
        registry_url: &str,
        topic: &str,
        database_url: &str,
        redis_url: &str,
    ) -> Self {
        Settings {
            listen: ([127, 0, 0, 1], 0).into(),
            kafka: KafkaSettings::new(brokers),
            log: LogSettings::new(topic),
            group: "orderflow-projector".to_owned(),
            dlq_topic: None,
            database_url: database_url.to_owned(),
            redis_url: redis_url.to_owned(),
            redis_prefix: "orderflow:".to_owned(),
            redis_ttl_secs: 86_400,
            redis_timeout_ms: 200,
            reader_role: "orderflow_reader".to_owned(),
            registry: RegistryArgs::new(registry_url),
            batch_max_records: 2000,
            batch_max_wait_ms: 20,
            writers: 2,
            http: HttpSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }

    /// The dead-letter topic: the configured one or `<topic>.dlq`.
    pub fn dlq_topic(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", self.log.topic))
    }

    /// The dead-letter topic's shape: one partition, replicated and kept like the log.
    pub(crate) fn dlq_log(&self) -> LogSettings {
        LogSettings {
            topic: self.dlq_topic(),
            partitions: 1,
            ..self.log.clone()
        }
    }

    /// Postgres connections of a projector: one per batch loop, and two for the reads
    /// around them (cache catch-up on assignment, the offsets on assignment).
    pub(crate) fn connections(&self) -> u32 {
        u32::from(self.writers) + 2
    }

    pub(crate) fn batch_max_wait(&self) -> Duration {
        Duration::from_millis(self.batch_max_wait_ms)
    }

    pub(crate) fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    pub(crate) fn redis_ttl(&self) -> Duration {
        Duration::from_secs(self.redis_ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooperative_rebalancing_is_refused_and_eager_accepted() {
        let mut settings = Settings::for_stack("b", "http://r", "t", "postgres://d", "redis://r");
        assert!(settings.check().is_ok());
        let strategy = (
            "partition.assignment.strategy".to_owned(),
            "cooperative-sticky".to_owned(),
        );
        settings.kafka.properties.push(strategy);
        assert!(settings.check().unwrap_err().contains("cooperative"));
    }
}
