use super::*;
use orderflow_domain::Status;
use uuid::Uuid;

fn event(version: u64, kind: EventKind) -> Event {
    Event {
        order_id: "o-1".into(),
        version,
        meta: EventMeta {
            event_id: Uuid::from_u128(version as u128),
            occurred_at: Timestamp(1_767_225_600_123 + version as i64),
            idempotency_key: (version == 1).then(|| "k".repeat(64)),
            correlation_id: (version == 2).then(|| "corr-2".into()),
        },
        kind,
    }
}

fn lifecycle() -> Vec<Event> {
    let placed = OrderPlaced {
        customer_id: "c-1".into(),
        items: vec![
            LineItem {
                product_id: "sku-1".into(),
                quantity: 2,
                unit_price: Decimal::new(1999, 2),
            },
            LineItem {
                product_id: "sku-2".into(),
                quantity: 1,
                unit_price: Decimal::new(5, 0),
            },
        ],
        shipping_address: "1 Main St".into(),
        currency: "EUR".into(),
        total_amount: Decimal::new(4498, 2),
        confirmation: orderflow_domain::Confirmation::Implied,
        payment_method: None,
    };
    vec![
        event(1, EventKind::Placed(placed)),
        event(
            2,
            EventKind::Packed {
                warehouse: "wh-east".into(),
            },
        ),
        event(
            3,
            EventKind::Shipped {
                carrier: "UPS".into(),
                tracking_number: "1Z".into(),
                estimated_delivery: Some(Date(20_800)),
            },
        ),
        event(
            4,
            EventKind::LocationUpdated {
                location: "Hub Frankfurt".into(),
            },
        ),
        event(5, EventKind::Delivered),
        event(
            6,
            EventKind::Cancelled {
                reason: "lost".into(),
            },
        ),
        event(
            7,
            EventKind::Shipped {
                carrier: "DHL".into(),
                tracking_number: "JD1".into(),
                estimated_delivery: None,
            },
        ),
    ]
}

#[test]
fn every_event_reads_back_from_its_history_row_as_itself() {
    for event in lifecycle() {
        let row = HistoryEvent::from(&history_row(&event));
        assert_eq!(row.event("o-1"), Ok(event));
    }
}

#[test]
fn folding_the_history_rows_gives_the_document_folding_the_log_gave() {
    let mut from_log = None;
    let mut from_history = None;
    for event in lifecycle().into_iter().take(4) {
        from_log = Some(apply(from_log, &event));
        let read_back = HistoryEvent::from(&history_row(&event))
            .event("o-1")
            .unwrap();
        from_history = Some(apply(from_history, &read_back));
        assert_eq!(from_history, from_log);
    }
    let document = from_history.unwrap();
    assert_eq!(document.status, Status::Shipped);
    assert_eq!(document.version, 4);
    assert_eq!(document.location.as_deref(), Some("Hub Frankfurt"));
    assert_eq!(document.warehouse.as_deref(), Some("wh-east"));
}

#[test]
fn a_row_that_does_not_read_as_an_event_says_which_and_why() {
    let mut row = HistoryEvent::from(&history_row(&lifecycle()[1]));
    row.data = json!({ "depot": "wh-east" });
    let error = row.event("o-1").unwrap_err();
    assert_eq!((error.order_id.as_str(), error.version), ("o-1", 2));
    assert!(error.reason.contains("warehouse"), "{error}");

    row.event_type = "OrderTeleported".into();
    assert!(
        row.event("o-1")
            .unwrap_err()
            .reason
            .contains("OrderTeleported")
    );
}
