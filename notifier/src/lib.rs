//! The notifier (issue 18, ADR 0014): a consumer of the order log, in a group of its own,
//! that turns every accepted status change into a notification for the order's customer
//! (email) and the webhooks subscribed to it, through a transactional outbox in Postgres
//! (`orderflow_outbox`).
//!
//! Two stages joined by the outbox: the **fold** (`consume`, `fold`, `store`) takes the log
//! in batches, one transaction per batch holding the orders' fold state, the new notices,
//! their deliveries and the partitions' next offsets (effectively once); the **delivery
//! workers** (`deliver`) claim due deliveries, send them, publish what was delivered to
//! `notifications.outbound` and what was parked to `notifications.dlq`, and record every
//! attempt (at least once, each under the event's id).
//!
//! Layout:
//! - `notice`: what one event notifies, with the shared fold rule; `fold`: a whole batch
//!   (pure, table-tested); `store`: the batch's transaction; `consume`: the group member;
//! - `deliver/`: the worker, the queue (`claims`), the channels (`send`), the topics
//!   (`publish`); `retry`: what follows an attempt (pure);
//! - `message`: the email of each status and the webhook body; `signature`: the webhook
//!   signature and its verification; `smtp`: the mailer;
//! - `settings`: [`Settings`]; `health`, `metrics`; `app`: [`run`].

mod app;
mod consume;
pub mod deliver;
pub mod fold;
mod health;
pub mod message;
mod metrics;
pub mod notice;
pub mod retry;
mod settings;
pub mod signature;
pub mod smtp;
mod store;

pub use app::run;
pub use settings::Settings;
