//! `decide_stock` and the stock fold: the only places a stock changes.

use super::{LineRef, MAX_UNITS, Stock, StockChange, StockCommand, StockError, StockEvent};
use crate::ledger::{LedgerOutcome, version_conflict};
use crate::validate::limits::MAX_LONG_TEXT;
use crate::{EventMeta, Violation, validate_order_id};

/// The field rules of `command` for `product_id`, alone: what makes it malformed whatever
/// the stock (checked before anything else, a retry's replay included).
pub fn check_stock_command(product_id: &str, command: &StockCommand) -> Result<(), StockError> {
    let problems = violations(product_id, command);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StockError::Invalid(problems))
    }
}

/// Decides what `command` means for `stock`: one event at `stock.version + 1`, or why not.
pub fn decide_stock(
    stock: &Stock,
    command: &StockCommand,
    meta: EventMeta,
) -> Result<StockEvent, StockError> {
    check_stock_command(&stock.product_id, command)?;
    let change = change_for(stock, command)?;
    Ok(StockEvent {
        product_id: stock.product_id.clone(),
        version: stock.version + 1,
        meta,
        change,
    })
}

fn change_for(stock: &Stock, command: &StockCommand) -> Result<StockChange, StockError> {
    Ok(match command.clone() {
        StockCommand::Receive { quantity } => StockChange::Received { quantity },
        StockCommand::Adjust { delta, reason } => {
            let after = stock.on_hand as i128 + delta as i128;
            if after < stock.reserved() as i128 {
                return Err(StockError::BelowReserved {
                    on_hand: stock.on_hand,
                    reserved: stock.reserved(),
                });
            }
            StockChange::Adjusted { delta, reason }
        }
        StockCommand::Reserve { line, quantity } => {
            if let Some(&held) = stock.reservations.get(&line) {
                return Err(StockError::AlreadyReserved { quantity: held });
            }
            if u64::from(quantity) > stock.available() {
                return Err(StockError::OutOfStock {
                    product_id: stock.product_id.clone(),
                    available: stock.available(),
                    requested: quantity,
                });
            }
            StockChange::Reserved { line, quantity }
        }
        StockCommand::Release { line } => {
            let quantity = held(stock, &line)?;
            StockChange::Released { line, quantity }
        }
        StockCommand::Commit { line } => {
            let quantity = held(stock, &line)?;
            StockChange::Committed { line, quantity }
        }
    })
}

fn held(stock: &Stock, line: &LineRef) -> Result<u32, StockError> {
    stock
        .reservations
        .get(line)
        .copied()
        .ok_or(StockError::NotReserved)
}

fn violations(product_id: &str, command: &StockCommand) -> Vec<Violation> {
    let mut out = Vec::new();
    if validate_order_id(product_id).is_err() {
        out.push(Violation::new(
            "product_id",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
        ));
    }
    let units = |field: &str, n: u64, out: &mut Vec<Violation>| {
        if n == 0 || n > u64::from(MAX_UNITS) {
            out.push(Violation::new(field, format!("must be 1 to {MAX_UNITS}")));
        }
    };
    match command {
        StockCommand::Receive { quantity } | StockCommand::Reserve { quantity, .. } => {
            units("quantity", u64::from(*quantity), &mut out)
        }
        StockCommand::Adjust { delta, reason } => {
            units("delta", delta.unsigned_abs(), &mut out);
            if reason.trim().is_empty() || reason.chars().count() > MAX_LONG_TEXT {
                out.push(Violation::new(
                    "reason",
                    format!("must be 1 to {MAX_LONG_TEXT} characters"),
                ));
            }
        }
        StockCommand::Release { .. } | StockCommand::Commit { .. } => {}
    }
    out
}

/// The fold rule for stock: accept `event` only at `version + 1` and only if it keeps the
/// invariant; otherwise leave the state and say why.
pub fn fold_stock(stock: Stock, event: &StockEvent) -> (Stock, LedgerOutcome) {
    if let Some((current, got)) = version_conflict(stock.version, event.version) {
        return (stock, LedgerOutcome::VersionConflict { current, got });
    }
    if !allowed(&stock, &event.change) {
        return (stock, LedgerOutcome::NotAllowed);
    }
    let mut next = stock;
    apply_change(&mut next, &event.change);
    next.version = event.version;
    (next, LedgerOutcome::Accepted)
}

/// Whether `change` keeps the invariant (`reserved <= on_hand`, no overflow), checked
/// without touching the stock: a refused event leaves it as it was, with no copy made.
fn allowed(stock: &Stock, change: &StockChange) -> bool {
    let held = |line: &LineRef, quantity: &u32| stock.reservations.get(line) == Some(quantity);
    match change {
        StockChange::Received { quantity } => {
            stock.on_hand.checked_add(u64::from(*quantity)).is_some()
        }
        StockChange::Adjusted { delta, .. } => stock
            .on_hand
            .checked_add_signed(*delta)
            .is_some_and(|after| after >= stock.reserved()),
        StockChange::Reserved { line, quantity } => {
            stock.available() >= u64::from(*quantity) && !stock.reservations.contains_key(line)
        }
        StockChange::Released { line, quantity } => held(line, quantity),
        // Committed units were held, so they are on hand.
        StockChange::Committed { line, quantity } => held(line, quantity),
    }
}

/// Applies a change [`allowed`] accepted.
fn apply_change(stock: &mut Stock, change: &StockChange) {
    match change {
        StockChange::Received { quantity } => stock.on_hand += u64::from(*quantity),
        StockChange::Adjusted { delta, .. } => {
            stock.on_hand = stock.on_hand.saturating_add_signed(*delta)
        }
        StockChange::Reserved { line, quantity } => {
            stock.reservations.insert(line.clone(), *quantity);
        }
        StockChange::Released { line, .. } => {
            stock.reservations.remove(line);
        }
        StockChange::Committed { line, quantity } => {
            stock.reservations.remove(line);
            stock.on_hand -= u64::from(*quantity);
        }
    }
}
