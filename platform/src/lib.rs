//! Plumbing shared by the orderflow services, with no business logic in it:
//!
//! - `problem`: RFC 9457 `application/problem+json` responses ([`Problem`]);
//! - `kafka`: librdkafka settings with local defaults and overrides ([`KafkaSettings`]) and
//!   Kafka's default key partitioner ([`partition_for_key`]);
//! - `event_log`: the log topic's settings, creation and start-up check ([`ensure_log`]);
//!   `topic_id`: the topic id from Kafka's DescribeTopics;
//! - `telemetry`: tracing set-up;
//! - `shutdown`: the Ctrl-C/SIGTERM future that `main` hands to `run`;
//! - `order_cache`: the Redis key format and version guard of cached orders.

mod event_log;
mod kafka;
mod order_cache;
mod problem;
mod shutdown;
mod telemetry;
mod topic_id;

pub use event_log::{
    LogError, LogIdentity, LogSettings, TopicFacts, check_topic, ensure_log, ensure_topic,
    topic_facts,
};
pub use kafka::{KafkaSettings, QuietEof, log_gone, partition_for_key, possibly_persisted};
pub use order_cache::{WRITE_IF_NEWER, order_cache_key, order_cache_pattern};
pub use problem::{FieldError, PROBLEM_JSON, Problem};
pub use shutdown::shutdown_signal;
pub use telemetry::init_tracing;
