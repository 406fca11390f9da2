//! `bench run`: the whole benchmark, step by step, against the stack the settings point at
//! (broker, registry, Postgres, Redis). It starts the orderflow services itself, from the
//! release binaries, on a fresh topic, database and Redis prefix, so every run starts
//! from the same state and no running stack is disturbed.
//!
//! Steps, in order (each later one needs what the earlier ones left):
//! 1. backlog: encode a backlog of lifecycles, produce it (raw produce limit), read it back
//!    with a bare consumer (raw consume limit);
//! 2. projector catch-up of the backlog, then the `COPY` limit for the same rows, then a
//!    rebuild of the same backlog beside the live projector;
//! 3. command-service start-up and memory with a log of placed orders;
//! 4. HTTP: the empty handler, place-order, lifecycle, visibility, Redis `GET`, and
//!    `GET /orders/{id}` cache hit and miss;
//! 5. notify: the notifier folding a log of its own into its outbox, and delivering every
//!    status change to a webhook;
//! 6. scale: place-order with one and with three command services in one group;
//! 7. fulfil: the time from place-order to `confirmed`, with a fulfilment service and
//!    stripe-mock.

use crate::backlog;
use crate::http_steps;
use crate::report::{Machine, Report};
use crate::services::Launcher;
use anyhow::Context;
use orderflow_auth::Role;
use orderflow_auth::dev::DevIssuer;
use orderflow_platform::KafkaSettings;
use orderflow_schemas::RegistrySettings;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `bench run` measures, and how hard.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct RunArgs {
    /// Directory of the release binaries of the services.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Where the reports go.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// Where the services' logs go.
    #[arg(long, default_value = "target/bench-logs")]
    pub log_dir: PathBuf,
    /// Events in the backlog the projector and the rebuild fold.
    #[arg(long, default_value_t = 1_000_000)]
    pub backlog_events: usize,
    /// Orders in the log the command service starts on.
    #[arg(long, default_value_t = 1_000_000)]
    pub startup_orders: usize,
    /// Events in the log of the notifier step (lifecycles of 6 events, 4 notices each).
    #[arg(long, default_value_t = 120_000)]
    pub notify_events: usize,
    /// Concurrent clients (connections) of the closed-loop steps.
    #[arg(long, default_value_t = 128)]
    pub clients: usize,
    /// Seconds each HTTP step measures (after a warm-up of a tenth of it).
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Commands per second of the visibility step.
    #[arg(long, default_value_t = 2_000.0)]
    pub visibility_rate: f64,
    /// The place-order open loop runs at this share of the closed loop's throughput.
    #[arg(long, default_value_t = 0.5)]
    pub open_load: f64,
    /// Orders per second of the fulfilment step (placed for 20 s, each confirmed).
    #[arg(long, default_value_t = 100)]
    pub fulfil_rate: u64,
    /// Requests per second of the cache-hit open loop (the target's rate).
    #[arg(long, default_value_t = 20_000.0)]
    pub get_rate: f64,
    /// The broker the run measures on, named in the report (scripts/bench.sh names the
    /// local Apache Kafka and its version).
    #[arg(long, env = "BENCH_BROKER", default_value = "an unnamed Kafka broker")]
    pub broker: String,
    /// Partitions of the benchmark's topics.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Database the run creates (dropped first if it exists) for its read model.
    #[arg(long, default_value = "orderflow_bench")]
    pub database: String,
    /// Steps to run, for working on one figure (`--steps backlog`); the backlog step always
    /// runs, since the later steps use its projector and orders. The report's parameters
    /// say which steps it holds.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Step::Backlog, Step::Startup, Step::Http, Step::Notify, Step::Scale, Step::Fulfil])]
    pub steps: Vec<Step>,
}

/// The steps of a run (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The backlog, the projector's catch-up and the rebuild, with their limits.
    Backlog,
    /// Command-service start-up and memory with a log of placed orders.
    Startup,
    /// Every HTTP figure.
    Http,
    /// The notifier: folding a log into its outbox, and delivering webhooks.
    Notify,
    /// place-order with one and with three command services (forwarding's cost).
    Scale,
    /// The time from place-order to `confirmed` (fulfilment, stripe-mock).
    Fulfil,
}

/// What every step needs.
pub struct Ctx {
    pub args: RunArgs,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub redis_url: String,
    pub launcher: Launcher,
    /// The run's own database.
    pub db: PgPool,
    pub database_url: String,
    /// Names unique to this run: topics, consumer group, Redis prefix.
    pub run_id: String,
    pub report: Report,
}

impl Ctx {
    pub fn topic(&self, what: &str) -> String {
        format!("bench.{}.{what}", self.run_id)
    }

    /// Creates the run's topic `what` and encodes a backlog of `events` for it (lifecycles,
    /// through the registry); the topic's name and the backlog, not yet produced.
    pub async fn new_log(
        &self,
        what: &str,
        events: usize,
    ) -> anyhow::Result<(String, crate::seed::Backlog)> {
        let topic = self.topic(what);
        eprintln!("{what}: encoding {events} events into {topic}");
        let log = orderflow_platform::LogSettings {
            partitions: self.args.partitions,
            ..orderflow_platform::LogSettings::new(&topic)
        };
        orderflow_platform::ensure_topic(&self.kafka, &log).await?;
        let codec = orderflow_schemas::EventCodec::new(&self.registry, &topic)?;
        codec.register_all().await?;
        let backlog = crate::seed::encode_backlog(&codec, events, false).await?;
        Ok((topic, backlog))
    }

    pub fn redis_prefix(&self) -> String {
        redis_prefix(&self.run_id)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.args.seconds)
    }
}

/// Runs every step and writes the report.
pub async fn run(
    args: RunArgs,
    kafka: KafkaSettings,
    registry: RegistrySettings,
    admin_database_url: &str,
    redis_url: String,
) -> anyhow::Result<Vec<PathBuf>> {
    let now = chrono::Utc::now();
    let run_id = now.format("%Y%m%d%H%M%S").to_string();
    let database_url = fresh_database(admin_database_url, &args.database).await?;
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database_url)
        .await
        .context("connecting to the run's database")?;
    let jwks = authenticate()?;
    let mut env = services_env(&kafka, &registry, &database_url, &redis_url, &run_id);
    env.push(("ORDERFLOW_AUTH_JWKS".into(), jwks));
    let launcher = Launcher {
        bin_dir: args.bin_dir.clone(),
        log_dir: args.log_dir.clone(),
        env,
    };
    let report = Report {
        started_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        machine: Machine::detect(),
        parameters: serde_json::to_value(&args)?,
        figures: Vec::new(),
    };
    let mut ctx = Ctx {
        args,
        kafka,
        registry,
        redis_url,
        launcher,
        db,
        database_url,
        run_id,
        report,
    };
    let live = backlog::run(&mut ctx).await?;
    if ctx.args.steps.contains(&Step::Startup) {
        crate::startup::run(&mut ctx).await?;
    }
    if ctx.args.steps.contains(&Step::Http) {
        http_steps::run(&mut ctx, live.order_ids).await?;
    }
    if ctx.args.steps.contains(&Step::Notify) {
        crate::notify_steps::run(&mut ctx).await?;
    }
    if ctx.args.steps.contains(&Step::Scale) {
        crate::scale_steps::run(&mut ctx).await?;
    }
    if ctx.args.steps.contains(&Step::Fulfil) {
        crate::fulfil_steps::run(&mut ctx).await?;
    }
    live.projector.stop().await?;
    clean_redis(&ctx.redis_url, &ctx.redis_prefix()).await?;
    let mut topics = ["events", "events.dlq", "placed", "empty"]
        .map(|t| ctx.topic(t))
        .to_vec();
    topics.extend(crate::ab_steps::topics(&ctx));
    topics.extend(crate::notify_steps::topics(&ctx));
    topics.extend(crate::scale_steps::topics(&ctx));
    topics.extend(crate::fulfil_steps::topics(&ctx));
    delete_topics(&ctx.kafka, &topics).await?;
    let written = ctx.report.write(&ctx.args.out)?;
    Ok(written)
}

/// Makes every request of the run carry an operator's token from the local development
/// issuer (created under `.stack/dev-issuer` if missing); returns the JWKS path the
/// services must trust.
fn authenticate() -> anyhow::Result<String> {
    let issuer = DevIssuer::load_or_create(Path::new(orderflow_auth::dev::DEFAULT_DIR))
        .context("setting up the development token issuer")?;
    let token = issuer.token("bench", &[Role::Operator], Duration::from_secs(24 * 3600));
    crate::http::authenticate_as(&token)?;
    let jwks = issuer
        .jwks_path()
        .context("the issuer keeps its JWKS in a file")?;
    let jwks = std::fs::canonicalize(&jwks).context("locating the JWKS file")?;
    Ok(jwks.display().to_string())
}

/// The environment every service of run `run_id` starts with.
fn services_env(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    database_url: &str,
    redis_url: &str,
    run_id: &str,
) -> Vec<(String, String)> {
    vec![
        ("ORDERFLOW_KAFKA_BROKERS".into(), kafka.brokers.clone()),
        ("ORDERFLOW_SCHEMA_REGISTRY_URL".into(), registry.url.clone()),
        ("ORDERFLOW_DATABASE_URL".into(), database_url.to_owned()),
        ("ORDERFLOW_REDIS_URL".into(), redis_url.to_owned()),
        (
            "ORDERFLOW_PROJECTOR_GROUP".into(),
            format!("bench-{run_id}"),
        ),
        ("ORDERFLOW_REDIS_PREFIX".into(), redis_prefix(run_id)),
        // The services' log filter: SERVICES_LOG, `info` by default.
        (
            "RUST_LOG".into(),
            std::env::var("SERVICES_LOG").unwrap_or_else(|_| "info".into()),
        ),
    ]
}

/// The Redis prefix of run `run_id` (each generation adds its own `g<N>:`).
fn redis_prefix(run_id: &str) -> String {
    format!("bench:{run_id}:")
}

/// Deletes the run's cached documents (its database goes at the next run's start).
async fn clean_redis(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pattern = format!("{prefix}*");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Deletes the run's topics: the services create them with unlimited retention, so they
/// would otherwise stay on the broker's disk for good.
async fn delete_topics(kafka: &KafkaSettings, topics: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config(&[]).create()?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    for result in admin.delete_topics(&names, &AdminOptions::new()).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => eprintln!("could not delete topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// Drops and creates `name` on the server of `admin_url`, returning its URL.
async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name {name:?}: letters, digits and _ only"
    );
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .context("connecting to Postgres")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let mut url = url_without_path(admin_url);
    url.push('/');
    url.push_str(name);
    Ok(url)
}

/// `postgres://u:p@host:port/db?x` → `postgres://u:p@host:port` (query kept off too).
fn url_without_path(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let end = rest.find(['/', '?']).map_or(url.len(), |i| scheme_end + i);
    url[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_database_replaces_only_the_path_of_the_url() {
        assert_eq!(
            url_without_path("postgres://u:p@127.0.0.1:5432/orderflow?sslmode=disable"),
            "postgres://u:p@127.0.0.1:5432"
        );
        assert_eq!(
            url_without_path("postgres://localhost"),
            "postgres://localhost"
        );
    }
}
