//! Fulfilment (issue 20, ADR 0016): stock and payment as event-sourced aggregates of their
//! own, and the process manager that takes each order that waits for fulfilment from
//! `pending` to `confirmed` (every line reserved, the payment authorized) or to `rejected`
//! (what was done undone), commits and captures when it ships, and releases and voids when
//! it is cancelled.
//!
//! Layout:
//! - `ledger/`: the single writers of `inventory.events` and `payments.events`;
//! - `processor/`: Stripe's PaymentIntents API;
//! - `orders`: the command service, for confirm and reject;
//! - `saga/`: the process manager (`plan` is the pure heart of it);
//! - `projection`: the read model (stock levels, saga stages) in Postgres;
//! - `http`: the stock API and the probes, documented by `openapi`; `health`, `metrics`;
//! - `log`: reading a whole log from its start; `settings`; `app`: [`run`].

mod app;
mod health;
mod http;
pub mod ledger;
mod log;
mod metrics;
mod openapi;
pub mod orders;
pub mod processor;
mod projection;
pub mod saga;
mod settings;

pub use app::run;
pub use settings::Settings;
