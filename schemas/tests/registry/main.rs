//! The schema workflow against a real Schema Registry (the stack's Apicurio, through its
//! Confluent-compatible API): the `schemas` tool's registration with per-subject levels,
//! the registry's verdicts, its 409 for an incompatible schema, and who may write to it.

mod auth;
mod cli;
mod codec;
mod helpers;
mod levels;
