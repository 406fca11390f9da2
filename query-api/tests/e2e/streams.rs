//! Live streams over the real stack: the command service appends, the projector folds and
//! announces, the query API streams (issue 18).

use crate::sse::{SseEvent, SseStream};
use crate::stack::Stack;
use orderflow_testkit::TestIssuer;
use serde_json::{Value, json};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(15);

fn order(customer: &str) -> Value {
    json!({"customer_id": customer, "shipping_address": "1 Main St",
           "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}]})
}

/// The next `order` event, which must be `version` with `status`.
async fn expect_version(stream: &mut SseStream, version: u64, status: &str) -> SseEvent {
    let event = stream
        .next_within(WITHIN)
        .await
        .unwrap_or_else(|| panic!("no event for version {version}"));
    assert_eq!(event.event, "order", "{event:?}");
    assert_eq!(event.id.as_deref(), Some(version.to_string().as_str()));
    let document = event.json();
    assert_eq!(
        (document["version"].as_u64(), document["status"].as_str()),
        (Some(version), Some(status)),
        "{document}"
    );
    event
}

/// An order placed, and its stream opened and at version 1: the order id, the stream's
/// path and the stream.
async fn placed_and_followed(stack: &Stack) -> (String, String, SseStream) {
    let id = stack.command("/orders", &order("c-1")).await["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack.read_own_write(&id, 1).await;
    let path = format!("/orders/{id}/events");
    let mut stream = SseStream::of(stack.stream(&path, None, None).await);
    expect_version(&mut stream, 1, "placed").await;
    (id, path, stream)
}

#[tokio::test]
async fn a_subscriber_sees_every_version_in_order_across_a_projector_restart_and_a_reconnect() {
    let mut stack = Stack::start().await;
    let (id, path, mut stream) = placed_and_followed(&stack).await;

    stack
        .command(&format!("/orders/{id}/pack"), &json!({"warehouse": "wh-1"}))
        .await;
    expect_version(&mut stream, 2, "packed").await;

    stack.restart_projector().await;
    let ship = json!({"carrier": "UPS", "tracking_number": "1Z"});
    stack.command(&format!("/orders/{id}/ship"), &ship).await;
    let hub = json!({"location": "Hub Frankfurt"});
    stack.command(&format!("/orders/{id}/location"), &hub).await;
    expect_version(&mut stream, 3, "shipped").await;
    let located = expect_version(&mut stream, 4, "shipped").await;
    assert_eq!(located.json()["location"], "Hub Frankfurt");

    // Away while the order is delivered; back with the last id it saw.
    drop(stream);
    stack
        .command(&format!("/orders/{id}/deliver"), &json!({}))
        .await;
    stack.read_own_write(&id, 5).await;
    let mut stream = SseStream::of(stack.stream(&path, Some(4), None).await);
    expect_version(&mut stream, 5, "delivered").await;
    let again = stream.next_within(Duration::from_secs(1)).await;
    assert_eq!(again, None, "nothing after version 5, and nothing twice");
    assert!(!stream.ended(), "the stream is still open");
}

#[tokio::test]
async fn a_reconnect_replays_every_version_it_missed_from_the_history() {
    let stack = Stack::start().await;
    let id = stack.command("/orders", &order("c-1")).await["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .command(&format!("/orders/{id}/pack"), &json!({"warehouse": "wh-1"}))
        .await;
    let ship =
        json!({"carrier": "UPS", "tracking_number": "1Z", "estimated_delivery": "2026-12-01"});
    stack.command(&format!("/orders/{id}/ship"), &ship).await;
    stack.read_own_write(&id, 3).await;

    let path = format!("/orders/{id}/events");
    let mut stream = SseStream::of(stack.stream(&path, Some(1), None).await);
    expect_version(&mut stream, 2, "packed").await;
    let shipped = expect_version(&mut stream, 3, "shipped").await.json();
    // The replayed document is the one the projector made for that version.
    assert_eq!(shipped, stack.query(&format!("/orders/{id}")).await);
    assert_eq!(shipped["estimated_delivery"], "2026-12-01");
}

#[tokio::test]
async fn streams_follow_the_read_sides_authorization() {
    let stack = Stack::start().await;
    let issuer = TestIssuer::shared();
    let id = stack.command("/orders", &order("alice")).await["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack.command("/orders", &order("bob")).await;
    stack.read_own_write(&id, 1).await;
    let path = format!("/orders/{id}/events");

    let bob = issuer.customer("bob");
    let refused = stack.stream(&path, None, Some(&bob)).await;
    assert_eq!(refused.status(), 404);
    let no_token = reqwest::get(format!("{}{path}", stack.queries_url()))
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);

    // Alice's dashboard stream carries her orders only.
    let alice = issuer.customer("alice");
    let mut all = SseStream::of(stack.stream("/events", None, Some(&alice)).await);
    stack.command("/orders", &order("bob")).await;
    let cancel = json!({"reason": "changed my mind"});
    stack
        .command(&format!("/orders/{id}/cancel"), &cancel)
        .await;
    let event = all.next_within(WITHIN).await.expect("alice's change");
    assert_eq!(event.event, "order");
    let document = event.json();
    assert_eq!(
        (document["order_id"].as_str(), document["status"].as_str()),
        (Some(id.as_str()), Some("cancelled"))
    );
    assert_eq!(
        all.next_within(Duration::from_secs(1)).await,
        None,
        "bob's order is not hers"
    );
}

#[tokio::test]
async fn a_generation_switch_ends_the_stream_and_a_reconnect_goes_on_from_the_new_one() {
    let stack = Stack::start().await;
    let (id, path, mut stream) = placed_and_followed(&stack).await;

    crate::rebuild::rebuilt(&stack).await;
    let end = stream.next_within(WITHIN).await.expect("an end event");
    assert_eq!(end.event, "end");
    assert_eq!(
        end.json(),
        json!({"reason": "generation-switch", "last_version": 1})
    );
    assert_eq!(stream.next().await, None, "the server closed the stream");

    let mut stream = SseStream::of(stack.stream(&path, Some(1), None).await);
    stack
        .command(&format!("/orders/{id}/pack"), &json!({"warehouse": "wh-1"}))
        .await;
    expect_version(&mut stream, 2, "packed").await;
}
