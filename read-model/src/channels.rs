//! The Postgres notification channels the projector announces on and the query API
//! listens to. Notifications are sent inside the writing transaction, so a listener hears
//! of a change only once it is committed.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The channel a committed batch announces each changed order on ([`OrderChanged`]).
pub const ORDERS_CHANNEL: &str = "orderflow_orders";
/// The channel a generation switch announces itself on, with the new live generation's
/// id as the payload.
pub const GENERATION_CHANNEL: &str = "orderflow_generation";

/// The payload on [`ORDERS_CHANNEL`]: `{"order_id": "…", "version": n}`, one per changed
/// order (a payload is limited to 8000 bytes, so a whole batch would not fit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChanged<'a> {
    #[serde(borrow)]
    pub order_id: Cow<'a, str>,
    pub version: u64,
}

impl OrderChanged<'_> {
    /// The payload text.
    pub fn payload(&self) -> String {
        // A string and a number: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'a> OrderChanged<'a> {
    /// Reads a payload; an error for anything else.
    pub fn parse(payload: &'a str) -> Result<OrderChanged<'a>, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let changed = OrderChanged {
            order_id: "o-1".into(),
            version: 3,
        };
        assert_eq!(changed.payload(), r#"{"order_id":"o-1","version":3}"#);
        assert_eq!(OrderChanged::parse(&changed.payload()).unwrap(), changed);
        assert!(OrderChanged::parse(r#"{"order_id":"o-1"}"#).is_err());
    }
}
