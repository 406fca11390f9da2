//! HTTP-level tests of the dev registry against a real Postgres (one database per test).
//!
//! Admin connection: `TEST_DATABASE_URL`, default
//! `postgres://orderflow:orderflow@127.0.0.1:5432/postgres`; the role must be allowed to
//! create databases.

mod compatibility;
mod config;
mod confluent_client;
mod errors;
mod helpers;
mod persistence;
mod schema_tool;
mod subjects;
