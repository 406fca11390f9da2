//! orderflow's query API: the read side over the projector's read models.
//!
//! The projector folds the event log into Postgres tables (orders, items, history and
//! analytics) and writes each order through to Redis as one JSON document. This service
//! only reads them: `GET /orders/{id}` tries Redis first and falls back to Postgres
//! (filling the cache with a version guard), lists and analytics come from Postgres.
//! Clients that just wrote can ask for `min_version`: the request waits, without polling,
//! until the projector's `pg_notify` announces that version (read-your-writes). Everything
//! the projector and this service agree on (the order and history documents, the schema,
//! the views, the channels, the Redis keys) is `orderflow_read_model`'s; a cache miss
//! builds the document with the projector's own load and serialisation.
//!
//! Failures stay small: Redis down means cache misses, Postgres down means 503 with
//! `Retry-After`, bad input means a 4xx problem+json naming the parameter.
//!
//! Layout:
//! - `settings`: typed configuration ([`Settings`]);
//! - `app`: [`run`], [`router`], the shared state and `/healthz`, `/readyz`;
//! - `orders`: `GET /orders/{id}` and its history; `list`: `GET /orders` and its cursor;
//! - `stats`: the analytics endpoints;
//! - `fulfilment`: stock levels and stuck sagas (the tables are
//!   `orderflow_fulfilment_model`'s, written by the fulfilment service);
//! - `subscriptions`, `notices`: the notifier's subscriptions and what it sent (the tables
//!   are `orderflow_outbox`'s; this role may write the subscriptions only);
//! - `wait`: the notification listener and the registry of waiting requests;
//! - `store`: Postgres reads; `cache`: Redis reads and guarded fills;
//! - `access`: who may read what (owner or operator, analytics for operators);
//! - `params`: query and path parsing; `error`: [`ApiError`], the problem+json mapping;
//! - `openapi`: the generated OpenAPI 3.1 document ([`openapi()`]), served at
//!   `/openapi.json` beside its page `/docs`;
//! - `metrics`: what operators see on `/metrics`.

mod access;
mod app;
mod cache;
mod error;
mod fulfilment;
mod list;
mod metrics;
mod notices;
mod openapi;
mod orders;
mod pages;
mod params;
mod settings;
mod stats;
mod store;
mod streams;
mod subscriptions;
#[cfg(test)]
mod tests;
mod wait;

pub use app::{AppState, router, run};
pub use error::ApiError;
pub use list::Cursor;
pub use openapi::openapi;
pub use settings::Settings;
