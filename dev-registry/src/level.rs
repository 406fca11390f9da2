//! Compatibility levels: the definition shared with the offline tool lives in
//! `orderflow_schemas`; this adds how the registry parses and prints them.

pub use orderflow_schemas::CompatibilityLevel;

use crate::error::Error;

/// Parses a level from a request or the store, as the registry's error.
pub(crate) fn parse_level(s: &str) -> Result<CompatibilityLevel, Error> {
    s.parse().map_err(|_| Error::InvalidCompatibilityLevel)
}
