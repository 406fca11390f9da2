//! The order lifecycle as one table, used by both `decide` and the fold rule so the two can
//! never disagree about which transitions exist.

use crate::command::CommandKind;
use std::fmt;

/// Where an order is in its lifecycle. `Delivered`, `Cancelled` and `Rejected` are
/// terminal.
///
/// `Placed` is an order accepted as placed, with no fulfilment check (every order placed
/// before fulfilment existed, and every order while it is off): it may be packed at once.
/// `Pending` is an order waiting for fulfilment to reserve its stock and authorize its
/// payment, which ends in `Confirmed` (packable) or `Rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Placed,
    Pending,
    Confirmed,
    Rejected,
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
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Rejected => "rejected",
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
            "pending" => Status::Pending,
            "confirmed" => Status::Confirmed,
            "rejected" => Status::Rejected,
            "packed" => Status::Packed,
            "shipped" => Status::Shipped,
            "delivered" => Status::Delivered,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether no command can change the order any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Delivered | Status::Cancelled | Status::Rejected
        )
    }

    /// Every status, for exhaustive tests and tables.
    pub const ALL: [Status; 8] = [
        Status::Placed,
        Status::Pending,
        Status::Confirmed,
        Status::Rejected,
        Status::Packed,
        Status::Shipped,
        Status::Delivered,
        Status::Cancelled,
    ];
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status an order moves to when `kind` happens while it is in `from` (`None`: the
/// order does not exist yet), or `None` when the lifecycle does not allow it. A placement
/// moves to `placed` or `pending` depending on its [`crate::Confirmation`]; the table
/// answers `placed` for it, and the event says which.
pub(crate) fn transition(from: Option<Status>, kind: CommandKind) -> Option<Status> {
    use CommandKind as K;
    use Status as S;
    match (from, kind) {
        (None, K::Place) => Some(S::Placed),
        (Some(S::Pending), K::Confirm) => Some(S::Confirmed),
        (Some(S::Pending), K::Reject) => Some(S::Rejected),
        (Some(S::Placed | S::Confirmed), K::Pack) => Some(S::Packed),
        (Some(S::Packed), K::Ship) => Some(S::Shipped),
        (Some(S::Shipped), K::UpdateLocation) => Some(S::Shipped),
        (Some(S::Shipped), K::Deliver) => Some(S::Delivered),
        (Some(S::Placed | S::Pending | S::Confirmed | S::Packed), K::Cancel) => Some(S::Cancelled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("lost"), None);
    }

    #[test]
    fn nothing_leaves_a_terminal_status() {
        for from in [Status::Delivered, Status::Cancelled, Status::Rejected] {
            for kind in CommandKind::ALL {
                assert_eq!(transition(Some(from), kind), None, "{from} {kind:?}");
            }
        }
    }

    #[test]
    fn a_pending_order_is_packed_only_once_confirmed() {
        assert_eq!(transition(Some(Status::Pending), CommandKind::Pack), None);
        assert_eq!(
            transition(Some(Status::Confirmed), CommandKind::Pack),
            Some(Status::Packed)
        );
        // Only fulfilment's own outcomes move a pending order, and only a pending one.
        for kind in [CommandKind::Confirm, CommandKind::Reject] {
            for from in Status::ALL {
                let allowed = transition(Some(from), kind).is_some();
                assert_eq!(allowed, from == Status::Pending, "{from} {kind:?}");
            }
        }
    }
}
