//! Compatibility levels, spelled and parsed the way Confluent does.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A subject's (or the registry-wide) compatibility level.
///
/// "Backward" means a consumer using the *new* schema can read data written with an
/// *old* one; "forward" the reverse; "full" both. Non-transitive levels compare with the
/// latest live version only, transitive levels with every live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompatibilityLevel {
    /// No checks at all.
    None,
    /// New schema reads data written with the latest version.
    Backward,
    /// New schema reads data written with every version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every version.
    FullTransitive,
}

impl CompatibilityLevel {
    /// Confluent's default when neither the subject nor the registry has a level set.
    pub const DEFAULT: CompatibilityLevel = CompatibilityLevel::Backward;

    /// All levels, in the order Confluent documents them.
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    /// The upper-case wire name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the new schema is checked against every live version rather than the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether the new schema must be able to read data written with earlier versions.
    pub fn checks_backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether earlier versions must be able to read data written with the new schema.
    pub fn checks_forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

/// A string that names no compatibility level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compatibility level {0:?}; expected one of NONE, BACKWARD(_TRANSITIVE), FORWARD(_TRANSITIVE), FULL(_TRANSITIVE)"
)]
pub struct UnknownLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = UnknownLevel;

    /// Case-insensitive, like Confluent's `CompatibilityLevel.forName`: clients send both
    /// `backward` and `BACKWARD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownLevel(s.trim().to_owned()))
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CompatibilityLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::CompatibilityLevel as L;

    #[test]
    fn parses_every_level_case_insensitively() {
        for level in L::ALL {
            assert_eq!(level.as_str().parse::<L>().unwrap(), level);
            assert_eq!(level.as_str().to_lowercase().parse::<L>().unwrap(), level);
        }
        assert_eq!(" full_transitive ".parse::<L>().unwrap(), L::FullTransitive);
    }

    #[test]
    fn rejects_unknown_levels() {
        for bad in ["", "BACKWARDS", "FULL-TRANSITIVE", "all"] {
            assert!(bad.parse::<L>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn directions_and_transitivity() {
        assert!(!L::None.checks_backward() && !L::None.checks_forward());
        assert!(L::Backward.checks_backward() && !L::Backward.checks_forward());
        assert!(!L::Forward.checks_backward() && L::Forward.checks_forward());
        assert!(L::Full.checks_backward() && L::Full.checks_forward());
        let transitive: Vec<L> = L::ALL.into_iter().filter(|l| l.is_transitive()).collect();
        assert_eq!(
            transitive,
            [
                L::BackwardTransitive,
                L::ForwardTransitive,
                L::FullTransitive
            ]
        );
    }

    #[test]
    fn serializes_as_wire_name() {
        let json = serde_json::to_string(&L::ForwardTransitive).unwrap();
        assert_eq!(json, "\"FORWARD_TRANSITIVE\"");
        assert_eq!(L::DEFAULT, L::Backward);
    }
}
