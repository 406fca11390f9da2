//! The schema workflow against a real Schema Registry (the stack's Apicurio, through its
//! Confluent-compatible API): the `schemas` tool's registration with per-subject levels,
//! the registry's verdicts, and its 409 for an incompatible schema.

mod cli;
mod codec;
mod helpers;
mod levels;
