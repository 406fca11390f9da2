//! Stock, given/when/then: past events folded with the shared rule, one command decided.

use super::*;
use crate::ledger::LedgerOutcome;
use crate::{EventMeta, Timestamp};
use uuid::Uuid;

fn meta(n: u64) -> EventMeta {
    EventMeta {
        event_id: Uuid::from_u128(u128::from(n)),
        occurred_at: Timestamp(1_700_000_000_000),
        idempotency_key: None,
        correlation_id: None,
    }
}

fn line(order: &str, line: u32) -> LineRef {
    LineRef {
        order_id: order.into(),
        line,
    }
}

fn given(history: &[StockChange]) -> Stock {
    history.iter().fold(Stock::new("sku-1"), |stock, change| {
        let event = StockEvent {
            product_id: "sku-1".into(),
            version: stock.version + 1,
            meta: meta(stock.version + 1),
            change: change.clone(),
        };
        let (stock, outcome) = fold_stock(stock, &event);
        assert_eq!(outcome, LedgerOutcome::Accepted, "bad history");
        stock
    })
}

fn when(stock: &Stock, command: StockCommand) -> Result<StockChange, StockError> {
    decide_stock(stock, &command, meta(99)).map(|event| {
        assert_eq!(event.version, stock.version + 1);
        event.change
    })
}

fn received(quantity: u32) -> StockChange {
    StockChange::Received { quantity }
}

#[test]
fn a_reservation_holds_units_until_it_is_committed() {
    let stock = given(&[
        received(5),
        StockChange::Reserved {
            line: line("o-1", 0),
            quantity: 3,
        },
    ]);
    assert_eq!(
        (stock.on_hand, stock.reserved(), stock.available()),
        (5, 3, 2)
    );
    let commit = when(
        &stock,
        StockCommand::Commit {
            line: line("o-1", 0),
        },
    )
    .unwrap();
    assert_eq!(
        commit,
        StockChange::Committed {
            line: line("o-1", 0),
            quantity: 3
        }
    );
    let stock = given(&[
        received(5),
        StockChange::Reserved {
            line: line("o-1", 0),
            quantity: 3,
        },
        commit,
    ]);
    assert_eq!((stock.on_hand, stock.reserved()), (2, 0));
}

#[test]
fn reserving_more_than_is_available_is_refused() {
    let stock = given(&[received(1)]);
    let refused = when(
        &stock,
        StockCommand::Reserve {
            line: line("o-1", 0),
            quantity: 2,
        },
    );
    assert_eq!(
        refused,
        Err(StockError::OutOfStock {
            product_id: "sku-1".into(),
            available: 1,
            requested: 2
        })
    );
}

#[test]
fn reserving_the_same_line_twice_is_recognised() {
    let reserved = StockChange::Reserved {
        line: line("o-1", 0),
        quantity: 1,
    };
    let stock = given(&[received(1), reserved]);
    let again = StockCommand::Reserve {
        line: line("o-1", 0),
        quantity: 1,
    };
    assert_eq!(
        when(&stock, again),
        Err(StockError::AlreadyReserved { quantity: 1 })
    );
}

#[test]
fn releasing_a_line_with_no_reservation_is_recognised() {
    let stock = given(&[received(1)]);
    let release = StockCommand::Release {
        line: line("o-9", 0),
    };
    assert_eq!(when(&stock, release), Err(StockError::NotReserved));
}

#[test]
fn an_adjustment_never_goes_below_what_is_reserved() {
    let reserved = StockChange::Reserved {
        line: line("o-1", 0),
        quantity: 2,
    };
    let stock = given(&[received(3), reserved]);
    let adjust = |delta| StockCommand::Adjust {
        delta,
        reason: "count".into(),
    };
    assert_eq!(
        when(&stock, adjust(-2)),
        Err(StockError::BelowReserved {
            on_hand: 3,
            reserved: 2
        })
    );
    assert!(when(&stock, adjust(-1)).is_ok());
}

#[test]
fn invalid_fields_are_all_reported() {
    let stock = Stock::new("bad id");
    let Err(StockError::Invalid(v)) = when(&stock, StockCommand::Receive { quantity: 0 }) else {
        panic!("expected violations");
    };
    let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["product_id", "quantity"]);
}

#[test]
fn the_fold_ignores_a_reservation_beyond_the_stock_and_a_version_gap() {
    let stock = given(&[received(1)]);
    let event = |version, quantity| StockEvent {
        product_id: "sku-1".into(),
        version,
        meta: meta(version),
        change: StockChange::Reserved {
            line: line("o-1", 0),
            quantity,
        },
    };
    let (stock, outcome) = fold_stock(stock, &event(2, 2));
    assert_eq!(outcome, LedgerOutcome::NotAllowed);
    let (stock, outcome) = fold_stock(stock, &event(3, 1));
    assert_eq!(
        outcome,
        LedgerOutcome::VersionConflict { current: 1, got: 3 }
    );
    assert_eq!((stock.version, stock.reserved()), (1, 0));
}
