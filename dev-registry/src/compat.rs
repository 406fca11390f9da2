//! The compatibility decision, shared with the offline tool (`orderflow_schemas`).

pub use orderflow_schemas::{Earlier, check};
