//! Integration tests of the query API against real Postgres and Redis. Each test gets a
//! fresh database (the read model's migrations, rows inserted with SQL) and a Redis prefix;
//! `contract` writes its rows with the projector's own code instead.

mod auth;
mod contract;
mod hardening;
mod helpers;
mod list;
mod metrics;
mod openapi;
mod orders;
mod privileges;
mod query_metrics;
mod stats;
mod wait;
