//! The answers an order's aggregate gives without appending: who may touch it, the
//! location cap, and caller-scoped idempotency keys (no broker involved).

use super::*;
use crate::idempotency::scoped_key;
use orderflow_auth::Role;
use orderflow_domain::{Decimal, EventMeta, LineItem, PlaceOrder, Timestamp, decide};

const ORDER: &str = "o-1";

fn customer(id: &str) -> Principal {
    Principal::new(id, [Role::Customer])
}

fn operator() -> Principal {
    Principal::new("ops-1", [Role::Operator])
}

fn place() -> Command {
    Command::Place(PlaceOrder {
        customer_id: "cust-1".into(),
        items: vec![LineItem {
            product_id: "sku-1".into(),
            quantity: 1,
            unit_price: Decimal::new(999, 2),
        }],
        shipping_address: "1 Main St".into(),
        currency: "USD".into(),
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    })
}

fn request(command: Command, caller: Principal, key: Option<&str>) -> CommandRequest {
    let idempotency_key = key.map(|k| scoped_key(&caller.subject, k));
    CommandRequest {
        order_id: ORDER.into(),
        command,
        precondition: None,
        idempotency_key,
        correlation_id: None,
        caller,
        span: tracing::Span::none(),
    }
}

/// Given: `commands` accepted in turn (decided and folded, as a worker does).
fn given(commands: Vec<CommandRequest>, max_locations: u32) -> Aggregates {
    let mut aggregates = Aggregates::new(0, max_locations);
    for (offset, request) in commands.into_iter().enumerate() {
        let meta = EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(0),
            idempotency_key: request.idempotency_key.clone(),
            correlation_id: None,
        };
        let event = decide(&aggregates.order(ORDER), &request.command, meta).unwrap();
        assert_eq!(
            aggregates.fold(&event, offset as i64),
            FoldOutcome::Accepted
        );
    }
    aggregates
}

fn cancel() -> Command {
    Command::Cancel {
        reason: "changed my mind".into(),
    }
}

fn location(at: &str) -> Command {
    Command::UpdateLocation {
        location: at.into(),
    }
}

#[test]
fn only_the_orders_customer_or_an_operator_may_touch_it() {
    let aggregates = given(vec![request(place(), operator(), None)], 10);
    let cases = [
        (customer("cust-1"), None),
        (operator(), None),
        (
            customer("cust-2"),
            Some(CommandError::NotFound(ORDER.into())),
        ),
    ];
    for (caller, refusal) in cases {
        let answer = aggregates.answer_without_appending(&request(cancel(), caller.clone(), None));
        assert_eq!(
            answer.map(|a| a.unwrap_err()),
            refusal,
            "{caller:?} cancels"
        );
        let inspected = aggregates.inspect(ORDER, &caller).err();
        assert_eq!(inspected, refusal, "{caller:?} inspects");
    }
}

#[test]
fn location_updates_past_the_cap_are_refused() {
    let ship = Command::Ship {
        carrier: "DHL".into(),
        tracking_number: "T1".into(),
        estimated_delivery: None,
    };
    let pack = Command::Pack {
        warehouse: "AMS".into(),
    };
    let history = vec![place(), pack, ship, location("a"), location("b")];
    let requests = history.into_iter().map(|c| request(c, operator(), None));
    let aggregates = given(requests.collect(), 2);
    let answer = aggregates.answer_without_appending(&request(location("c"), operator(), None));
    assert_eq!(
        answer.map(|a| a.unwrap_err()),
        Some(CommandError::LocationLimit {
            order_id: ORDER.into(),
            limit: 2
        })
    );
    let deliver = request(Command::Deliver, operator(), None);
    assert!(
        aggregates.answer_without_appending(&deliver).is_none(),
        "delivery is decided"
    );
}

#[test]
fn an_idempotency_key_is_the_callers_own() {
    let aggregates = given(
        vec![
            request(place(), operator(), None),
            request(cancel(), customer("cust-1"), Some("k")),
        ],
        10,
    );
    let retry =
        aggregates.answer_without_appending(&request(cancel(), customer("cust-1"), Some("k")));
    let ack = retry
        .expect("answered from the log")
        .expect("the original answer");
    assert!(ack.replayed);
    assert_eq!(ack.version, 2);
    // An operator sending the same key is another request: it is decided (and refused by
    // the lifecycle, since the order is cancelled), not replayed as the customer's.
    let other = aggregates.answer_without_appending(&request(cancel(), operator(), Some("k")));
    assert!(other.is_none());
    let changed = aggregates.answer_without_appending(&request(
        Command::Cancel {
            reason: "another reason".into(),
        },
        customer("cust-1"),
        Some("k"),
    ));
    assert_eq!(
        changed.map(|a| a.unwrap_err()),
        Some(CommandError::IdempotencyKeyReused)
    );
}
