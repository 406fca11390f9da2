//! Given/when/then for the order aggregate, in the style of cqrs-es's `TestFramework`:
//! given past events, when a command is decided, then expect an event or an error.

use crate::{Command, DomainError, Event, EventKind, EventMeta, Order, Timestamp, decide, fold};
use uuid::Uuid;

pub const ORDER: &str = "order-1";

/// Metadata for the n-th event of a test; fixed so results are comparable.
pub fn meta(n: u128) -> EventMeta {
    EventMeta {
        event_id: Uuid::from_u128(n),
        occurred_at: Timestamp(1_700_000_000_000 + n as i64),
        idempotency_key: None,
        correlation_id: None,
    }
}

/// An event of `ORDER` at `version`.
pub fn event(version: u64, kind: EventKind) -> Event {
    Event {
        order_id: ORDER.into(),
        version,
        meta: meta(version as u128),
        kind,
    }
}

/// Starts a scenario from past events, folded with the shared rule.
pub fn given(history: &[EventKind]) -> Given {
    let mut order = Order::new(ORDER);
    for (i, kind) in history.iter().enumerate() {
        let folded = fold(order, &event(i as u64 + 1, kind.clone()));
        assert_eq!(folded.outcome, crate::FoldOutcome::Accepted, "bad history");
        order = folded.order;
    }
    Given { order }
}

pub struct Given {
    order: Order,
}

impl Given {
    pub fn when(self, command: Command) -> Then {
        let result = decide(&self.order, &command, meta(99));
        Then {
            order: self.order,
            result,
        }
    }
}

pub struct Then {
    order: Order,
    result: Result<Event, DomainError>,
}

impl Then {
    /// Asserts the command produced `kind` at the next version, and returns the event.
    pub fn then_expect(self, kind: EventKind) -> Event {
        let event = self.result.expect("the command should be accepted");
        assert_eq!(event.kind, kind);
        assert_eq!(event.version, self.order.version + 1);
        assert_eq!(event.order_id, ORDER);
        assert_eq!(event.meta, meta(99));
        event
    }

    /// Asserts the command was refused with `error`.
    pub fn then_expect_error(self, error: DomainError) {
        assert_eq!(self.result, Err(error));
    }

    /// The event, if the command was accepted.
    pub fn error_free(self) -> Option<Event> {
        self.result.ok()
    }

    /// The refusal, for assertions on its details.
    pub fn error(self) -> DomainError {
        self.result.expect_err("the command should be refused")
    }
}
