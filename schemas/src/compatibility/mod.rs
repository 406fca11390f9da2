//! Schema compatibility as Confluent defines it, decided by apache-avro: shared by the
//! offline `schemas check` tool and the development registry, so both say the same.

mod check;
mod level;

pub use check::{Earlier, check, error_chain};
pub use level::{CompatibilityLevel, UnknownLevel};
