//! Field rules for commands. They live in the domain so every entry point (REST today,
//! anything else later) enforces the same limits.

use crate::command::{Command, PlaceOrder};
use crate::error::Violation;
use crate::event::LineItem;
use rust_decimal::Decimal;

/// The limits a command's fields must respect.
pub mod limits {
    use rust_decimal::Decimal;

    /// Longest order, customer or product id, in characters.
    pub const MAX_ID_LEN: usize = 64;
    /// Most line items in one order.
    pub const MAX_ITEMS: usize = 100;
    /// Largest quantity of one line item.
    pub const MAX_QUANTITY: u32 = 10_000;
    /// Longest shipping address or cancel reason, in characters.
    pub const MAX_LONG_TEXT: usize = 500;
    /// Longest warehouse, carrier, tracking number or location, in characters.
    pub const MAX_SHORT_TEXT: usize = 200;
    /// Decimal places allowed in money.
    pub const MONEY_SCALE: u32 = 2;
    /// The largest amount the wire format holds: Avro `decimal(12, 2)`.
    pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_327, 232, 0, false, 2);
}

use limits::*;

/// Checks an order id: non-empty, at most [`MAX_ID_LEN`] characters from
/// `[A-Za-z0-9._:-]`, so it is safe in URLs, Kafka keys and Redis keys as it is.
pub fn validate_order_id(id: &str) -> Result<(), Violation> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Violation::new(
            "order_id",
            format!("must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"),
        ))
    }
}

/// Every violation in the command's fields; empty when it is valid. [`crate::decide`]
/// checks this first; entry points may call it to report problems alongside their own.
pub fn violations(command: &Command) -> Vec<Violation> {
    let mut out = Vec::new();
    match command {
        Command::Place(place) => check_place(place, &mut out),
        Command::Pack { warehouse } => text("warehouse", warehouse, MAX_SHORT_TEXT, &mut out),
        Command::Ship {
            carrier,
            tracking_number,
            ..
        } => {
            text("carrier", carrier, MAX_SHORT_TEXT, &mut out);
            text("tracking_number", tracking_number, MAX_SHORT_TEXT, &mut out);
        }
        Command::UpdateLocation { location } => {
            text("location", location, MAX_SHORT_TEXT, &mut out)
        }
        Command::Deliver => {}
        Command::Cancel { reason } | Command::Reject { reason } => {
            text("reason", reason, MAX_LONG_TEXT, &mut out)
        }
        Command::Confirm => {}
    }
    out
}

fn check_place(place: &PlaceOrder, out: &mut Vec<Violation>) {
    text("customer_id", &place.customer_id, MAX_ID_LEN, out);
    text(
        "shipping_address",
        &place.shipping_address,
        MAX_LONG_TEXT,
        out,
    );
    if place.currency.len() != 3 || !place.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        out.push(Violation::new(
            "currency",
            "must be an ISO 4217 code of three capital letters, e.g. USD",
        ));
    }
    if let Some(method) = &place.payment_method
        && validate_order_id(method).is_err()
    {
        out.push(Violation::new(
            "payment_method",
            format!("must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"),
        ));
    }
    if place.items.is_empty() {
        out.push(Violation::new("items", "must hold at least one item"));
    }
    if place.items.len() > MAX_ITEMS {
        out.push(Violation::new(
            "items",
            format!(
                "must hold at most {MAX_ITEMS} items, got {}",
                place.items.len()
            ),
        ));
    }
    for (i, item) in place.items.iter().enumerate() {
        text(
            &format!("items[{i}].product_id"),
            &item.product_id,
            MAX_ID_LEN,
            out,
        );
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            out.push(Violation::new(
                format!("items[{i}].quantity"),
                format!(
                    "must be between 1 and {MAX_QUANTITY}, got {}",
                    item.quantity
                ),
            ));
        }
        if let Some(problem) = money_problem(item.unit_price) {
            out.push(Violation::new(format!("items[{i}].unit_price"), problem));
        }
    }
    if out.is_empty() && total(&place.items).is_none() {
        out.push(Violation::new(
            "items",
            format!("the order total must not exceed {MAX_AMOUNT}"),
        ));
    }
}

/// Why `amount` is not valid money, if it is not.
fn money_problem(amount: Decimal) -> Option<String> {
    if amount.is_sign_negative() && !amount.is_zero() {
        Some(format!("must not be negative, got {amount}"))
    } else if amount.normalize().scale() > MONEY_SCALE {
        Some(format!(
            "must have at most {MONEY_SCALE} decimal places, got {amount}"
        ))
    } else if amount > MAX_AMOUNT {
        Some(format!("must not exceed {MAX_AMOUNT}, got {amount}"))
    } else {
        None
    }
}

/// The order total at scale 2, or `None` when it does not fit the wire format.
pub(crate) fn total(items: &[LineItem]) -> Option<Decimal> {
    let mut sum = Decimal::ZERO;
    for item in items {
        sum = sum.checked_add(item.unit_price.checked_mul(Decimal::from(item.quantity))?)?;
    }
    let mut sum = sum.round_dp(MONEY_SCALE);
    sum.rescale(MONEY_SCALE);
    (sum <= MAX_AMOUNT).then_some(sum)
}

fn text(field: &str, value: &str, max: usize, out: &mut Vec<Violation>) {
    if value.trim().is_empty() {
        out.push(Violation::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        out.push(Violation::new(
            field,
            format!(
                "must be at most {max} characters, got {}",
                value.chars().count()
            ),
        ));
    } else if value.chars().any(|c| c.is_control() && c != '\n') {
        out.push(Violation::new(field, "must not contain control characters"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_the_largest_decimal_12_2() {
        assert_eq!(MAX_AMOUNT.to_string(), "9999999999.99");
    }

    #[test]
    fn order_ids_are_url_safe() {
        assert!(validate_order_id("ord-2026:11.21_a").is_ok());
        assert!(validate_order_id("").is_err());
        assert!(validate_order_id("a/b").is_err());
        assert!(validate_order_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn money_must_be_non_negative_with_two_places() {
        assert_eq!(money_problem("25.99".parse().unwrap()), None);
        assert_eq!(money_problem("25.90".parse().unwrap()), None);
        assert_eq!(money_problem("25.900".parse().unwrap()), None);
        assert!(money_problem("25.999".parse().unwrap()).is_some());
        assert!(money_problem("-1".parse().unwrap()).is_some());
        assert!(money_problem("10000000000".parse().unwrap()).is_some());
    }
}
