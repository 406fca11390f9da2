//! `decide`: the only place where a command becomes an event.

use crate::command::Command;
use crate::error::DomainError;
use crate::event::{Event, EventKind, EventMeta, LineItem, OrderPlaced};
use crate::fold::Order;
use crate::status::transition;
use crate::validate::{limits::MONEY_SCALE, total, violations};

/// Decides what `command` means for `order`: exactly one event, at version
/// `order.version + 1`, or the reason it is refused. Pure: the same inputs always give the
/// same answer, and `meta` brings the event id and time in from outside.
pub fn decide(order: &Order, command: &Command, meta: EventMeta) -> Result<Event, DomainError> {
    let problems = violations(command);
    if !problems.is_empty() {
        return Err(DomainError::Invalid(problems));
    }
    match (order.status, command) {
        (Some(_), Command::Place(_)) => return Err(DomainError::AlreadyPlaced),
        (None, c) if !matches!(c, Command::Place(_)) => return Err(DomainError::NotFound),
        _ => {}
    }
    if transition(order.status, command.kind()).is_none() {
        return Err(DomainError::TransitionNotAllowed {
            // Checked above: only `Place` passes with no status, and it always transitions.
            from: order.status.expect("a placed order"),
            command: command.kind(),
        });
    }
    Ok(Event {
        order_id: order.id.clone(),
        version: order.version + 1,
        meta,
        kind: event_kind(command),
    })
}

fn event_kind(command: &Command) -> EventKind {
    match command.clone() {
        Command::Place(place) => {
            let items: Vec<LineItem> = place.items.into_iter().map(at_money_scale).collect();
            EventKind::Placed(OrderPlaced {
                // Validation has already proven the total fits.
                total_amount: total(&items).unwrap_or_default(),
                customer_id: place.customer_id,
                items,
                shipping_address: place.shipping_address,
                currency: place.currency,
                confirmation: place.confirmation,
                payment_method: place.payment_method,
            })
        }
        Command::Pack { warehouse } => EventKind::Packed { warehouse },
        Command::Ship {
            carrier,
            tracking_number,
            estimated_delivery,
        } => EventKind::Shipped {
            carrier,
            tracking_number,
            estimated_delivery,
        },
        Command::UpdateLocation { location } => EventKind::LocationUpdated { location },
        Command::Deliver => EventKind::Delivered,
        Command::Cancel { reason } => EventKind::Cancelled { reason },
        Command::Confirm => EventKind::Confirmed,
        Command::Reject { reason } => EventKind::Rejected { reason },
    }
}

/// Money always leaves the domain with exactly two decimal places.
fn at_money_scale(mut item: LineItem) -> LineItem {
    item.unit_price = item.unit_price.normalize();
    item.unit_price.rescale(MONEY_SCALE);
    item
}
