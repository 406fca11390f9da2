//! Given a log, when it is folded in memory and compared with stored tables, then these
//! differences are reported.

use super::model::{Folder, ReadModel, compare};
use crate::fold::tests::{cancelled, packed, placed, record};
use orderflow_domain::Event;

fn fold(events: &[Event]) -> (ReadModel, usize) {
    let mut folder = Folder::default();
    for e in events {
        folder.push(e);
    }
    let ignored = folder.ignored;
    (folder.finish(), ignored)
}

fn events() -> Vec<Event> {
    [
        record(
            0,
            "o-1",
            1,
            0,
            placed(&[("sku-1", 2, "25.99"), ("sku-2", 1, "5.50")]),
        ),
        record(1, "o-1", 2, 5, packed()),
        record(2, "o-1", 2, 6, cancelled()),
        record(3, "o-2", 1, 70, placed(&[("sku-1", 1, "25.99")])),
        record(4, "o-2", 2, 71, cancelled()),
    ]
    .into_iter()
    .map(|r| r.event)
    .collect()
}

#[test]
fn a_conflicting_append_is_ignored_and_the_rest_makes_the_model() {
    let (model, ignored) = fold(&events());
    assert_eq!(ignored, 1);
    assert_eq!(model.orders["o-1"].status, "packed");
    assert_eq!(model.orders["o-1"].warehouse.as_deref(), Some("AMS-1"));
    assert_eq!(
        model.orders["o-2"].cancel_reason.as_deref(),
        Some("changed mind")
    );
    assert_eq!(model.items.len(), 3);
    assert_eq!(model.history.len(), 4);
    assert_eq!(model.status.get("packed"), Some(&1));
    assert_eq!(model.status.get("cancelled"), Some(&1));
    assert_eq!(model.hourly.len(), 2, "placements an hour apart");
    assert_eq!(model.products["sku-1"].0, 3);
    assert_eq!(model.products["sku-1"].1.to_string(), "77.97");
}

#[test]
fn equal_models_have_no_differences() {
    let (model, _) = fold(&events());
    assert!(compare(&model, &model.clone()).is_empty());
}

#[test]
fn a_tampered_row_is_named_with_its_table_key_and_both_values() {
    let (expected, _) = fold(&events());
    let mut stored = expected.clone();
    stored.orders.get_mut("o-2").unwrap().status = "delivered".into();
    stored.history.remove(&("o-1".to_owned(), 2));
    let differences = compare(&expected, &stored);
    let tables: Vec<&str> = differences.iter().map(|d| d.table).collect();
    assert_eq!(tables, ["orders", "order_history"]);
    assert_eq!(differences[0].count, 1);
    assert!(differences[0].first[0].contains("\"o-2\""));
    assert!(differences[0].first[0].contains("delivered"));
    assert!(differences[1].first[0].contains("missing"));
}

#[test]
fn rows_nobody_expects_are_differences_too() {
    let (expected, _) = fold(&events()[..2]);
    let (stored, _) = fold(&events());
    let differences = compare(&expected, &stored);
    let orders = differences.iter().find(|d| d.table == "orders").unwrap();
    assert!(orders.first.iter().any(|l| l.contains("not expected")));
}
