//! The fulfilment records round-trip through their schemas, and their histories pass the
//! offline check at FULL_TRANSITIVE.

use super::*;
use crate::history::load_histories;
use orderflow_domain::inventory::{LineRef, StockChange};
use orderflow_domain::payment::PaymentChange;
use orderflow_domain::{EventMeta, Timestamp};
use uuid::Uuid;

fn meta(n: u128) -> EventMeta {
    EventMeta {
        event_id: Uuid::from_u128(n),
        occurred_at: Timestamp(1_767_225_600_123),
        idempotency_key: None,
        correlation_id: Some("saga-o-1".into()),
    }
}

fn round_trip<R: LedgerRecord + PartialEq + std::fmt::Debug>(record: R) {
    let mut datum = Vec::new();
    write_datum(&record, &mut datum).unwrap();
    let back: R = read_datum(R::schema(), &datum).unwrap();
    assert_eq!(back, record);
}

#[test]
fn every_stock_change_reads_back_as_written() {
    let line = LineRef {
        order_id: "o-1".into(),
        line: 2,
    };
    let changes = [
        StockChange::Received { quantity: 5 },
        StockChange::Adjusted {
            delta: -3,
            reason: "count".into(),
        },
        StockChange::Reserved {
            line: line.clone(),
            quantity: 1,
        },
        StockChange::Released {
            line: line.clone(),
            quantity: 1,
        },
        StockChange::Committed { line, quantity: 1 },
    ];
    for (n, change) in changes.into_iter().enumerate() {
        let mut meta = meta(n as u128);
        meta.idempotency_key = (n % 2 == 0).then(|| format!("key-{n}"));
        round_trip(StockEvent {
            product_id: "sku-1".into(),
            version: n as u64 + 1,
            meta,
            change,
        });
    }
}

#[test]
fn every_payment_change_reads_back_as_written() {
    let amount = "12.50".parse().unwrap();
    let changes = [
        PaymentChange::Authorized {
            intent_id: "pi_1".into(),
            amount,
            currency: "EUR".into(),
        },
        PaymentChange::Declined {
            reason: "card_declined".into(),
        },
        PaymentChange::Unanswered,
        PaymentChange::Captured { amount },
        PaymentChange::Voided,
        PaymentChange::Refunded { amount },
        PaymentChange::Requested,
    ];
    for (n, change) in changes.into_iter().enumerate() {
        round_trip(PaymentEvent {
            order_id: "o-1".into(),
            version: n as u64 + 1,
            meta: meta(n as u128),
            change,
        });
    }
}

#[test]
fn a_reservation_without_its_line_is_refused() {
    let mut value = StockEvent {
        product_id: "sku-1".into(),
        version: 1,
        meta: meta(1),
        change: StockChange::Reserved {
            line: LineRef {
                order_id: "o-1".into(),
                line: 0,
            },
            quantity: 1,
        },
    }
    .to_value();
    if let Value::Record(fields) = &mut value {
        fields.retain(|(name, _)| name != "line");
        fields.push(("line".into(), Value::Union(0, Box::new(Value::Null))));
    }
    assert_eq!(StockEvent::from_value(value).unwrap_err().field, "line");
}

#[test]
fn the_ledger_histories_pass_their_offline_check_at_full_transitive() {
    for (dir, name) in [
        ("inventory", StockEvent::FULL_NAME),
        ("payments", PaymentEvent::FULL_NAME),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let histories = load_histories(&path).unwrap();
        assert_eq!(histories.len(), 1);
        assert_eq!(histories[0].record_name().as_deref(), Some(name));
        assert_eq!(
            histories[0].level, None,
            "{dir}: FULL_TRANSITIVE, the default"
        );
        assert!(histories[0].check(crate::DEFAULT_LEVEL).is_empty());
    }
}
