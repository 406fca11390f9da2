use super::*;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use orderflow_domain::Decimal;
use uuid::Uuid;

fn event(version: u64, kind: EventKind) -> Event {
    Event {
        order_id: "ord-1".into(),
        version,
        meta: EventMeta {
            event_id: Uuid::from_u128(version as u128),
            occurred_at: Timestamp(1_763_000_000_123),
            idempotency_key: version.is_multiple_of(2).then(|| "key-1".to_owned()),
            correlation_id: Some("corr".into()),
        },
        kind,
    }
}

fn every_kind() -> Vec<Event> {
    let price: Decimal = "25.99".parse().unwrap();
    vec![
        event(
            1,
            EventKind::Placed(OrderPlaced {
                customer_id: "c-1".into(),
                items: vec![LineItem {
                    product_id: "p".into(),
                    quantity: 2,
                    unit_price: price,
                }],
                shipping_address: "1 Main St".into(),
                currency: "EUR".into(),
                total_amount: "51.98".parse().unwrap(),
                confirmation: Confirmation::Required,
                payment_method: Some("pm_card_visa".into()),
            }),
        ),
        event(
            2,
            EventKind::Packed {
                warehouse: "w".into(),
            },
        ),
        event(
            3,
            EventKind::Shipped {
                carrier: "c".into(),
                tracking_number: "t".into(),
                estimated_delivery: Some(Date(20_800)),
            },
        ),
        event(
            4,
            EventKind::LocationUpdated {
                location: "l".into(),
            },
        ),
        event(5, EventKind::Delivered),
        event(6, EventKind::Cancelled { reason: "r".into() }),
        event(7, EventKind::Confirmed),
        event(8, EventKind::Rejected { reason: "r".into() }),
    ]
}

#[test]
fn every_event_round_trips_through_its_avro_schema() {
    for original in every_kind() {
        let wire = WireEvent::from(&original);
        let schema = wire.body.event_type().schema();
        let writer = GenericDatumWriter::builder(schema).build().unwrap();
        let bytes = writer
            .write_value_to_vec(wire.to_value())
            .expect("value matches schema");
        let reader = GenericDatumReader::builder(schema).build().unwrap();
        let value = reader.read_value(&mut bytes.as_slice()).unwrap();
        let back = WireEvent::from_value(wire.body.event_type(), value).unwrap();
        assert_eq!(Event::try_from(back).unwrap(), original);
    }
}

#[test]
fn an_order_shipped_written_with_v1_reads_with_no_estimated_delivery() {
    let v1 = apache_avro::Schema::parse_str(include_str!("../avro/OrderShipped/v1.avsc")).unwrap();
    let mut wire = WireEvent::from(&every_kind()[2]);
    let crate::WireBody::OrderShipped {
        estimated_delivery, ..
    } = &mut wire.body
    else {
        unreachable!()
    };
    *estimated_delivery = None;
    let apache_avro::types::Value::Record(mut fields) = wire.to_value() else {
        unreachable!()
    };
    fields.retain(|(name, _)| name != "estimated_delivery");
    let bytes = GenericDatumWriter::builder(&v1)
        .build()
        .unwrap()
        .write_value_to_vec(apache_avro::types::Value::Record(fields))
        .unwrap();
    let v2 = crate::EventType::OrderShipped.schema();
    let reader = GenericDatumReader::builder(&v1)
        .reader_schema(v2)
        .build()
        .unwrap();
    let value = reader.read_value(&mut bytes.as_slice()).unwrap();
    let back =
        Event::try_from(WireEvent::from_value(crate::EventType::OrderShipped, value).unwrap())
            .unwrap();
    let EventKind::Shipped {
        estimated_delivery,
        carrier,
        ..
    } = back.kind
    else {
        unreachable!()
    };
    assert_eq!((estimated_delivery, carrier.as_str()), (None, "c"));
}

#[test]
fn an_order_placed_written_with_v1_reads_in_us_dollars_and_needs_no_confirmation() {
    let v1 = apache_avro::Schema::parse_str(include_str!("../avro/OrderPlaced/v1.avsc")).unwrap();
    let wire = WireEvent::from(&every_kind()[0]);
    let apache_avro::types::Value::Record(mut fields) = wire.to_value() else {
        unreachable!()
    };
    let v3_fields = ["currency", "confirmation", "payment_method"];
    fields.retain(|(name, _)| !v3_fields.contains(&name.as_str()));
    let bytes = GenericDatumWriter::builder(&v1)
        .build()
        .unwrap()
        .write_value_to_vec(apache_avro::types::Value::Record(fields))
        .unwrap();
    // As the codec does: read with the writer's schema, then resolve to the newest.
    let reader = GenericDatumReader::builder(&v1).build().unwrap();
    let mut value = reader.read_value(&mut bytes.as_slice()).unwrap();
    crate::datum::widen_decimals(&mut value);
    let value = value
        .resolve(crate::EventType::OrderPlaced.schema())
        .unwrap();
    let back =
        Event::try_from(WireEvent::from_value(crate::EventType::OrderPlaced, value).unwrap())
            .unwrap();
    let EventKind::Placed(placed) = back.kind else {
        unreachable!()
    };
    assert_eq!(
        (
            placed.currency.as_str(),
            placed.total_amount.to_string().as_str()
        ),
        ("USD", "51.98")
    );
    assert_eq!(placed.confirmation, Confirmation::Implied);
}

/// A future writer may add a symbol to `Confirmation`: this reader reads the enum's
/// default, so an order it cannot understand is never held waiting for fulfilment.
#[test]
fn a_confirmation_symbol_this_reader_does_not_know_reads_as_implied() {
    let newer_source = crate::EventType::OrderPlaced.schema_source().replacen(
        r#""REQUIRED""#,
        r#""REQUIRED", "LATER""#,
        1,
    );
    let newer = apache_avro::Schema::parse_str(&newer_source).unwrap();
    let wire = WireEvent::from(&every_kind()[0]);
    let apache_avro::types::Value::Record(mut fields) = wire.to_value() else {
        unreachable!()
    };
    for (name, value) in &mut fields {
        if name == "confirmation" {
            *value = apache_avro::types::Value::Enum(2, "LATER".into());
        }
    }
    let bytes = GenericDatumWriter::builder(&newer)
        .build()
        .unwrap()
        .write_value_to_vec(apache_avro::types::Value::Record(fields))
        .unwrap();
    let reader = GenericDatumReader::builder(&newer).build().unwrap();
    let mut value = reader.read_value(&mut bytes.as_slice()).unwrap();
    crate::datum::widen_decimals(&mut value);
    let value = value
        .resolve(crate::EventType::OrderPlaced.schema())
        .unwrap();
    let back =
        Event::try_from(WireEvent::from_value(crate::EventType::OrderPlaced, value).unwrap())
            .unwrap();
    let EventKind::Placed(placed) = back.kind else {
        unreachable!()
    };
    assert_eq!(placed.confirmation, Confirmation::Implied);
}

#[test]
fn a_wire_event_with_version_zero_is_refused() {
    let mut wire = WireEvent::from(&every_kind()[1]);
    wire.envelope.version = 0;
    assert_eq!(Event::try_from(wire).unwrap_err().field, "version");
}

#[test]
fn content_the_domain_would_never_write_is_refused() {
    let mut wire = WireEvent::from(&every_kind()[0]);
    if let crate::WireBody::OrderPlaced { items, .. } = &mut wire.body {
        items[0].unit_price = "79228162514264337593543950.33".parse().unwrap();
    }
    assert_eq!(
        Event::try_from(wire).unwrap_err().field,
        "items[0].unit_price"
    );
    let mut wire = WireEvent::from(&every_kind()[1]);
    wire.body = crate::WireBody::OrderPacked {
        warehouse: "nul\0".into(),
    };
    assert_eq!(Event::try_from(wire).unwrap_err().field, "warehouse");
    let mut wire = WireEvent::from(&every_kind()[1]);
    wire.envelope.occurred_at = i64::MAX;
    assert_eq!(Event::try_from(wire).unwrap_err().field, "occurred_at");
}

#[test]
fn a_negative_quantity_is_refused() {
    let mut wire = WireEvent::from(&every_kind()[0]);
    if let crate::WireBody::OrderPlaced { items, .. } = &mut wire.body {
        items[0].quantity = -1;
    }
    assert_eq!(Event::try_from(wire).unwrap_err().field, "quantity");
}
