//! Events written before a schema change (OrderPlaced v1 without `currency`, OrderShipped
//! v1 without `estimated_delivery`) stay in the log forever: the projector reads them with
//! the newest schemas and the defaults.

use crate::helpers::{Stack, event, order_id, packed, placed, shipped, spawn_projector};
use crate::wire::framed;
use apache_avro::types::Value;
use orderflow_domain::EventKind;
use orderflow_schemas::WireEvent;

/// Appends order `id`, placed (`placement`) `minutes` after T0, packed and shipped a minute
/// apart, its placement and its shipping written with the v1 schemas.
pub(crate) async fn given_an_order_shipped_with_v1_schemas(
    stack: &mut Stack,
    id: &str,
    minutes: i64,
    placement: EventKind,
) {
    let placed_v1 = written_with_v1(
        stack,
        &event(id, 1, minutes, placement),
        include_str!("../../../schemas/avro/OrderPlaced/v1.avsc"),
        &["currency", "confirmation", "payment_method"],
    )
    .await;
    let shipped_v1 = written_with_v1(
        stack,
        &event(id, 3, minutes + 2, shipped()),
        include_str!("../../../schemas/avro/OrderShipped/v1.avsc"),
        &["estimated_delivery"],
    )
    .await;
    stack.produce(id.as_bytes(), &placed_v1).await;
    stack.append(&[event(id, 2, minutes + 1, packed())]).await;
    stack.produce(id.as_bytes(), &shipped_v1).await;
}

/// Confluent-framed bytes of `event` written with the v1 schema of its type (without the
/// `dropped` fields, added since), registered under the topic's subject as the producer of
/// that time did.
async fn written_with_v1(
    stack: &Stack,
    event: &orderflow_domain::Event,
    v1: &str,
    dropped: &[&str],
) -> Vec<u8> {
    let wire = WireEvent::from(event);
    let name = wire.body.event_type().full_name();
    let id = stack.register_schema(&name, v1).await;
    let Value::Record(mut fields) = wire.to_value() else {
        unreachable!()
    };
    fields.retain(|(field, _)| !dropped.contains(&field.as_str()));
    framed(id, v1, Value::Record(fields))
}

#[tokio::test]
async fn events_written_with_v1_schemas_are_projected_with_the_defaults() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let id = order_id();
    let placement = placed(&[("sku-1", 2, "25.99")]);
    given_an_order_shipped_with_v1_schemas(&mut stack, &id, 0, placement).await;
    stack.wait_projected().await;

    let row: (String, i64, String, Option<chrono::NaiveDate>, String) = sqlx::query_as(
        "SELECT status, version, currency, estimated_delivery, total_amount::text FROM orders WHERE order_id = $1",
    )
    .bind(&id)
    .fetch_one(&stack.db)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("shipped".into(), 3, "USD".into(), None, "51.98".into())
    );
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM order_history WHERE order_id = $1")
        .bind(&id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(history, 3);
    assert_eq!(projector.status().await["dead_lettered"], 0);
    projector.shutdown().await;
}
