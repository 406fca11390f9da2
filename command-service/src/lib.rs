//! orderflow's command service: REST commands in, Avro events on the Kafka log out.
//!
//! A command is validated by the pure domain crate against the order's aggregate, which is
//! replayed from the log at start-up and kept in memory. Each partition of the topic has one
//! worker that is the single writer of its orders; a command is acknowledged only once its
//! event has been read back from the log and accepted by the shared fold rule, so the log,
//! not this process, decides what happened.
//!
//! Layout:
//! - `settings`: typed configuration ([`Settings`]);
//! - `app`: [`run`], the shared state and the start-up of the log side;
//! - `http`: routes, request parsing and problem+json errors ([`router`] is built there);
//! - `worker`: the per-partition single writer (`worker/endings`: commands that end without
//!   a read-back); `doubt`: events whose delivery failed
//!   but which may be in the log; `decode`: what a worker makes of a record read back;
//! - `aggregates`: per-partition state, preconditions, ownership and the location cap;
//!   `idempotency`: caller-scoped keys and their per-order index;
//! - `log`: topic creation, producer, consumer and broker probe;
//! - `ownership`: which instance serves which partition (ADR 0015);
//! - `readiness`: what `/readyz` reports; `metrics`: what operators see on `/metrics`;
//! - `error`: [`CommandError`], the boundary between HTTP and the workers.

mod aggregates;
mod app;
mod decode;
mod doubt;
mod error;
mod http;
mod idempotency;
mod log;
mod metrics;
pub mod ownership;
mod readiness;
mod settings;
mod worker;

pub use aggregates::{Ack, CommandRequest, Precondition};
pub use app::{AppState, run};
pub use error::CommandError;
pub use http::{ApiError, openapi, router};
pub use settings::Settings;
