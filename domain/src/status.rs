//! The order lifecycle as one table, used by both `decide` and the fold rule so the two can
//! never disagree about which transitions exist.

use crate::command::CommandKind;
use std::fmt;

/// Where an order is in its lifecycle. `Delivered` and `Cancelled` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Placed,
    Packed,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    /// The lower-case name used on the wire and in the API (`"placed"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Placed => "placed",
            Status::Packed => "packed",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses the name produced by [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "placed" => Status::Placed,
            "packed" => Status::Packed,
            "shipped" => Status::Shipped,
            "delivered" => Status::Delivered,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether no command can change the order any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Delivered | Status::Cancelled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status an order moves to when `kind` happens while it is in `from` (`None`: the
/// order does not exist yet), or `None` when the lifecycle does not allow it.
pub(crate) fn transition(from: Option<Status>, kind: CommandKind) -> Option<Status> {
    use CommandKind as K;
    use Status as S;
    match (from, kind) {
        (None, K::Place) => Some(S::Placed),
        (Some(S::Placed), K::Pack) => Some(S::Packed),
        (Some(S::Packed), K::Ship) => Some(S::Shipped),
        (Some(S::Shipped), K::UpdateLocation) => Some(S::Shipped),
        (Some(S::Shipped), K::Deliver) => Some(S::Delivered),
        (Some(S::Placed | S::Packed), K::Cancel) => Some(S::Cancelled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [
            Status::Placed,
            Status::Packed,
            Status::Shipped,
            Status::Delivered,
            Status::Cancelled,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("lost"), None);
    }

    #[test]
    fn nothing_leaves_a_terminal_status() {
        for from in [Status::Delivered, Status::Cancelled] {
            for kind in CommandKind::ALL {
                assert_eq!(transition(Some(from), kind), None, "{from} {kind:?}");
            }
        }
    }
}
