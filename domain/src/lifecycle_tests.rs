//! Every transition and every refusal of the order lifecycle, given/when/then.

use crate::test_framework::given;
use crate::{
    Command, CommandKind, Confirmation, DomainError, EventKind, LineItem, OrderPlaced, PlaceOrder,
};
use crate::{Status, Violation};
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn item(product: &str, quantity: u32, price: &str) -> LineItem {
    LineItem {
        product_id: product.into(),
        quantity,
        unit_price: d(price),
    }
}

fn place_cmd() -> Command {
    Command::Place(PlaceOrder {
        customer_id: "cust-1".into(),
        items: vec![item("sku-1", 2, "25.99"), item("sku-2", 1, "5.5")],
        shipping_address: "1 Main St".into(),
        currency: "USD".into(),
        confirmation: Confirmation::Implied,
        payment_method: None,
    })
}

fn placed() -> EventKind {
    EventKind::Placed(OrderPlaced {
        customer_id: "cust-1".into(),
        items: vec![item("sku-1", 2, "25.99"), item("sku-2", 1, "5.50")],
        shipping_address: "1 Main St".into(),
        currency: "USD".into(),
        total_amount: d("57.48"),
        confirmation: Confirmation::Implied,
        payment_method: None,
    })
}

fn packed() -> EventKind {
    EventKind::Packed {
        warehouse: "ams-1".into(),
    }
}
fn shipped() -> EventKind {
    EventKind::Shipped {
        carrier: "DHL".into(),
        tracking_number: "TN1".into(),
        estimated_delivery: None,
    }
}
fn moved(to: &str) -> EventKind {
    EventKind::LocationUpdated {
        location: to.into(),
    }
}
fn cancelled() -> EventKind {
    EventKind::Cancelled {
        reason: "changed mind".into(),
    }
}

fn pack_cmd() -> Command {
    Command::Pack {
        warehouse: "ams-1".into(),
    }
}
fn ship_cmd() -> Command {
    Command::Ship {
        carrier: "DHL".into(),
        tracking_number: "TN1".into(),
        estimated_delivery: None,
    }
}
fn locate_cmd(to: &str) -> Command {
    Command::UpdateLocation {
        location: to.into(),
    }
}
fn cancel_cmd() -> Command {
    Command::Cancel {
        reason: "changed mind".into(),
    }
}

fn not_allowed(from: Status, command: CommandKind) -> DomainError {
    DomainError::TransitionNotAllowed { from, command }
}

#[test]
fn placing_a_new_order_computes_its_total_at_two_places() {
    let event = given(&[]).when(place_cmd()).then_expect(placed());
    assert_eq!(event.version, 1);
    let EventKind::Placed(p) = event.kind else {
        unreachable!()
    };
    assert_eq!(p.total_amount.to_string(), "57.48");
    assert_eq!(p.items[1].unit_price.to_string(), "5.50");
}

#[test]
fn placing_an_order_that_exists_is_rejected() {
    given(&[placed()])
        .when(place_cmd())
        .then_expect_error(DomainError::AlreadyPlaced);
}

#[test]
fn packing_a_placed_order_packs_it() {
    given(&[placed()]).when(pack_cmd()).then_expect(packed());
}

#[test]
fn shipping_a_packed_order_ships_it() {
    given(&[placed(), packed()])
        .when(ship_cmd())
        .then_expect(shipped());
}

#[test]
fn a_shipped_order_records_any_number_of_locations() {
    given(&[placed(), packed(), shipped()])
        .when(locate_cmd("Utrecht"))
        .then_expect(moved("Utrecht"));
    let event = given(&[
        placed(),
        packed(),
        shipped(),
        moved("Utrecht"),
        moved("Breda"),
    ])
    .when(locate_cmd("Antwerp"))
    .then_expect(moved("Antwerp"));
    assert_eq!(event.version, 6);
}

#[test]
fn delivering_a_shipped_order_delivers_it() {
    given(&[placed(), packed(), shipped(), moved("Utrecht")])
        .when(Command::Deliver)
        .then_expect(EventKind::Delivered);
}

#[test]
fn cancelling_a_placed_or_packed_order_cancels_it() {
    given(&[placed()])
        .when(cancel_cmd())
        .then_expect(cancelled());
    given(&[placed(), packed()])
        .when(cancel_cmd())
        .then_expect(cancelled());
}

#[test]
fn shipping_with_an_estimated_delivery_date_records_it() {
    let eta = Some(crate::Date(20_800));
    let command = Command::Ship {
        carrier: "DHL".into(),
        tracking_number: "TN1".into(),
        estimated_delivery: eta,
    };
    let event = given(&[placed(), packed()])
        .when(command)
        .then_expect(EventKind::Shipped {
            carrier: "DHL".into(),
            tracking_number: "TN1".into(),
            estimated_delivery: eta,
        });
    assert_eq!(event.version, 3);
}

#[test]
fn shipping_a_placed_order_is_rejected() {
    given(&[placed()])
        .when(ship_cmd())
        .then_expect_error(not_allowed(Status::Placed, CommandKind::Ship));
}

#[test]
fn delivering_an_order_that_was_not_shipped_is_rejected() {
    given(&[placed()])
        .when(Command::Deliver)
        .then_expect_error(not_allowed(Status::Placed, CommandKind::Deliver));
    given(&[placed(), packed()])
        .when(Command::Deliver)
        .then_expect_error(not_allowed(Status::Packed, CommandKind::Deliver));
}

#[test]
fn packing_twice_is_rejected() {
    given(&[placed(), packed()])
        .when(pack_cmd())
        .then_expect_error(not_allowed(Status::Packed, CommandKind::Pack));
}

#[test]
fn locations_are_only_recorded_while_shipped() {
    given(&[placed()])
        .when(locate_cmd("x"))
        .then_expect_error(not_allowed(Status::Placed, CommandKind::UpdateLocation));
    given(&[placed(), packed()])
        .when(locate_cmd("x"))
        .then_expect_error(not_allowed(Status::Packed, CommandKind::UpdateLocation));
}

#[test]
fn cancelling_a_shipped_order_is_rejected() {
    given(&[placed(), packed(), shipped()])
        .when(cancel_cmd())
        .then_expect_error(not_allowed(Status::Shipped, CommandKind::Cancel));
}

#[test]
fn a_delivered_order_accepts_no_further_command() {
    let history = [placed(), packed(), shipped(), EventKind::Delivered];
    for command in [
        pack_cmd(),
        ship_cmd(),
        locate_cmd("x"),
        Command::Deliver,
        cancel_cmd(),
    ] {
        let kind = command.kind();
        given(&history)
            .when(command)
            .then_expect_error(not_allowed(Status::Delivered, kind));
    }
}

#[test]
fn a_cancelled_order_accepts_no_further_command() {
    for command in [
        pack_cmd(),
        ship_cmd(),
        locate_cmd("x"),
        Command::Deliver,
        cancel_cmd(),
    ] {
        let kind = command.kind();
        given(&[placed(), cancelled()])
            .when(command)
            .then_expect_error(not_allowed(Status::Cancelled, kind));
    }
}

#[test]
fn any_change_to_an_unknown_order_is_not_found() {
    for command in [
        pack_cmd(),
        ship_cmd(),
        locate_cmd("x"),
        Command::Deliver,
        cancel_cmd(),
    ] {
        given(&[])
            .when(command)
            .then_expect_error(DomainError::NotFound);
    }
}

#[test]
fn the_refusal_names_the_status_and_the_command() {
    let error = given(&[placed()]).when(ship_cmd()).error();
    assert_eq!(error.to_string(), "cannot ship an order that is placed");
}

fn place_with(f: impl FnOnce(&mut PlaceOrder)) -> Command {
    let Command::Place(mut p) = place_cmd() else {
        unreachable!()
    };
    f(&mut p);
    Command::Place(p)
}

fn violated_fields(command: Command) -> Vec<String> {
    match given(&[]).when(command).error() {
        DomainError::Invalid(v) => v.into_iter().map(|Violation { field, .. }| field).collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn an_order_with_empty_ids_is_invalid() {
    let fields = violated_fields(place_with(|p| {
        p.customer_id = " ".into();
        p.items[0].product_id = String::new();
    }));
    assert_eq!(fields, ["customer_id", "items[0].product_id"]);
}

#[test]
fn an_order_without_items_or_with_too_many_is_invalid() {
    assert_eq!(violated_fields(place_with(|p| p.items.clear())), ["items"]);
    let many = place_with(|p| p.items = vec![item("a", 1, "1"); 101]);
    assert_eq!(violated_fields(many), ["items"]);
    let limit = place_with(|p| p.items = vec![item("a", 1, "1"); 100]);
    assert!(given(&[]).when(limit).result_is_ok());
}

#[test]
fn quantities_outside_one_to_ten_thousand_are_invalid() {
    let fields = violated_fields(place_with(|p| {
        p.items[0].quantity = 0;
        p.items[1].quantity = 10_001;
    }));
    assert_eq!(fields, ["items[0].quantity", "items[1].quantity"]);
}

#[test]
fn prices_with_three_places_or_below_zero_are_invalid() {
    let fields = violated_fields(place_with(|p| {
        p.items[0].unit_price = d("1.999");
        p.items[1].unit_price = d("-0.01");
    }));
    assert_eq!(fields, ["items[0].unit_price", "items[1].unit_price"]);
}

#[test]
fn a_total_beyond_the_wire_format_is_invalid() {
    let fields = violated_fields(place_with(|p| {
        p.items = vec![item("a", 10_000, "9999999.99")];
    }));
    assert_eq!(fields, ["items"]);
}

#[test]
fn a_currency_that_is_not_an_iso_code_is_invalid() {
    assert_eq!(
        violated_fields(place_with(|p| p.currency = "usd".into())),
        ["currency"]
    );
    assert_eq!(
        violated_fields(place_with(|p| p.currency = "EURO".into())),
        ["currency"]
    );
}

#[test]
fn over_long_text_is_invalid() {
    let fields = violated_fields(place_with(|p| p.shipping_address = "x".repeat(501)));
    assert_eq!(fields, ["shipping_address"]);
    let error = given(&[placed()])
        .when(Command::Pack {
            warehouse: "w".repeat(201),
        })
        .error();
    assert!(matches!(error, DomainError::Invalid(v) if v[0].field == "warehouse"));
}

#[test]
fn a_free_order_is_allowed() {
    let event = given(&[])
        .when(place_with(|p| p.items = vec![item("gift", 1, "0")]))
        .then_expect_error_free();
    let EventKind::Placed(p) = event.kind else {
        unreachable!()
    };
    assert_eq!(p.total_amount.to_string(), "0.00");
}

#[test]
fn a_command_and_the_event_it_produced_have_the_same_fingerprint() {
    let event = given(&[]).when(place_cmd()).then_expect(placed());
    // "5.5" in the command became "5.50" in the event: still the same request.
    assert_eq!(
        event.kind.to_command().fingerprint(),
        place_cmd().fingerprint()
    );
    assert_ne!(
        pack_cmd().fingerprint(),
        Command::Pack {
            warehouse: "other".into()
        }
        .fingerprint()
    );
}

impl crate::test_framework::Then {
    fn result_is_ok(self) -> bool {
        self.error_free().is_some()
    }

    fn then_expect_error_free(self) -> crate::Event {
        self.error_free().expect("the command should be accepted")
    }
}
