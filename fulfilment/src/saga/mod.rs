//! The fulfilment process manager: one saga per order that waits for fulfilment, driven
//! by the order log and kept in the logs (ADR 0016).
//!
//! Its state is a fold of the events it reacts to: the order (from `orders.events`, in
//! `book`), the order's reservations (the stock ledger) and its payment (the payment
//! ledger). Nothing else is kept but what the log cannot hold (a refusal's reason, the
//! step that is next and since when), so a restart reads the logs and resumes every saga
//! where it stood.
//!
//! - `plan`: the next step, pure and table-tested;
//! - `book`: the sagas' orders;
//! - `steps`: running a step;
//! - `runner`: the loop that reads the order log and runs the steps.

pub mod book;
pub mod plan;
#[cfg(test)]
mod plan_tests;
mod runner;
pub mod steps;

pub use runner::{Runner, RunnerConfig};
