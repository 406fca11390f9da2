//! The fulfilment service against the real stack: Apache Kafka, the registry, Postgres,
//! a command service with fulfilment on, and stripe-mock behind a fault-injecting proxy.

mod logs;
mod support;

mod crash;

mod happy_path;
mod payment_faults;
mod stock;
mod stock_api;
mod stuck;
