//! Plumbing shared by the orderflow services, with no business logic in it:
//!
//! - `http`: the HTTP server every service runs ([`serve`]) with its limits ([`HttpSettings`]:
//!   header, body and request timeouts, a concurrency limit) and an optional rate limit per
//!   client ([`RateLimitLayer`]);
//! - `metrics`: the Prometheus recorder ([`metrics::install`]), `/metrics`
//!   ([`metrics::routes`]), the HTTP series ([`HttpMetricsLayer`]) and their switch
//!   ([`MetricsSettings`]);
//! - `redact`: masking of passwords and tokens in URLs, texts and client properties
//!   ([`redact::url`], [`redact::text`], [`redact::property`]);
//! - `backoff`: the one retry delay of every loop that waits for a dependency ([`Backoff`]);
//! - `problem`: RFC 9457 `application/problem+json` responses ([`Problem`]);
//! - `docs_page`: `GET /openapi.json` and the built-in documentation page `GET /docs`
//!   ([`docs_page::routes`]);
//! - `kafka`: librdkafka settings with local defaults and overrides ([`KafkaSettings`]) and
//!   Kafka's default key partitioner ([`partition_for_key`]);
//! - `event_log`: the log topic's settings, creation and start-up check ([`ensure_log`]);
//!   `topic_id`: the topic id from Kafka's DescribeTopics;
//! - `read_to_end`: reading partitions to their ends outside any group ([`ReadToEnd`]);
//! - `telemetry`: logs and OpenTelemetry traces ([`init_tracing`]), trace context across
//!   HTTP ([`telemetry::TraceLayer`]) and Kafka headers;
//! - `shutdown`: the Ctrl-C/SIGTERM future that `main` hands to `run`.

mod backoff;
pub mod docs_page;
mod event_log;
pub mod http;
mod kafka;
pub mod metrics;
mod problem;
mod read_to_end;
pub mod redact;
mod shutdown;
pub mod telemetry;
mod topic_id;

pub use backoff::Backoff;
pub use event_log::{
    LogError, LogIdentity, LogSettings, TopicFacts, check_topic, ensure_log, ensure_topic,
    topic_facts,
};
pub use http::{HttpSettings, RateLimitLayer, serve};
pub use kafka::{
    ConfigFileError, KafkaConfigFile, KafkaSettings, QuietEof, access_denied, log_gone,
    partition_for_key, possibly_persisted,
};
pub use metrics::{HttpMetricsLayer, MetricsSettings};
pub use problem::{FieldError, PROBLEM_JSON, Problem};
pub use read_to_end::{ReadToEnd, ReadToEndError, Span, whole_partitions};
pub use shutdown::shutdown_signal;
pub use telemetry::{init_tracing, shutdown_tracing};
