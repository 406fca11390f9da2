//! Integration tests of the command service against the real stack: Apache Kafka,
//! the dev Schema Registry on Postgres, and Confluent's Python client. Each test gets its
//! own topic and its own registry database.

mod auth;
mod availability;
mod command_metrics;
mod concurrency;
mod hardening;
mod helpers;
mod idempotency;
mod lifecycle;
mod log;
mod metrics;
mod openapi;
mod ownership;
mod registry;
mod replay;
mod scale_out;
mod validation;
mod wire;
