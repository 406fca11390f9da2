//! Integration tests of the projector against the real stack: Apache Kafka, Postgres,
//! Redis and the dev Schema Registry. Each test gets its own topic, read-model database,
//! registry and Redis key prefix.

mod backlog;
mod children;
mod crash;
mod faults;
mod fixtures;
mod fulfilment_events;
mod helpers;
mod instances;
mod log;
mod members;
mod metrics;
mod newer_schema;
mod old_events;
mod projection;
mod projector_metrics;
mod read_model;
mod rebuild;
mod rebuild_crash;
mod registry;
mod restart;
mod wire;
