//! Test support shared by the integration tests of every crate (a dev-dependency only).
//!
//! - [`registry`]: the stack's Schema Registry (Apicurio, started by `scripts/test.sh`),
//!   and registries a test starts and stops itself to play an outage or a lost registry.

pub mod registry;

pub use registry::Registry;
