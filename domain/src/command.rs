//! What a caller asks of an order. A command is a wish: [`crate::decide`] turns it into a
//! fact (an event) or refuses it.

use crate::event::{Confirmation, Date, EventKind, LineItem};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};

/// A request to change one order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    Place(PlaceOrder),
    Pack {
        warehouse: String,
    },
    Ship {
        carrier: String,
        tracking_number: String,
        estimated_delivery: Option<Date>,
    },
    UpdateLocation {
        location: String,
    },
    Deliver,
    Cancel {
        reason: String,
    },
    /// Fulfilment reserved the stock and authorized the payment of a pending order.
    Confirm,
    /// Fulfilment could not: `reason` tells the customer why.
    Reject {
        reason: String,
    },
}

/// The content of a new order. The total is not part of it: the domain computes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlaceOrder {
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub shipping_address: String,
    /// ISO 4217 code of the prices, e.g. `USD`.
    pub currency: String,
    /// Set by the service from its configuration, never by the client.
    pub confirmation: Confirmation,
    /// The processor's id of the payment method to authorize, e.g. Stripe's `pm_…`.
    pub payment_method: Option<String>,
}

/// The kind of a command, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Place,
    Pack,
    Ship,
    UpdateLocation,
    Deliver,
    Cancel,
    Confirm,
    Reject,
}

impl CommandKind {
    /// Every kind, for exhaustive tests and tables.
    pub const ALL: [CommandKind; 8] = [
        CommandKind::Place,
        CommandKind::Pack,
        CommandKind::Ship,
        CommandKind::UpdateLocation,
        CommandKind::Deliver,
        CommandKind::Cancel,
        CommandKind::Confirm,
        CommandKind::Reject,
    ];

    /// The verb used in messages and URLs (`"pack"`, `"update location"`, ...).
    pub fn verb(self) -> &'static str {
        match self {
            CommandKind::Place => "place",
            CommandKind::Pack => "pack",
            CommandKind::Ship => "ship",
            CommandKind::UpdateLocation => "update the location of",
            CommandKind::Deliver => "deliver",
            CommandKind::Cancel => "cancel",
            CommandKind::Confirm => "confirm",
            CommandKind::Reject => "reject",
        }
    }
}

impl Command {
    /// The kind of this command.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Place(_) => CommandKind::Place,
            Command::Pack { .. } => CommandKind::Pack,
            Command::Ship { .. } => CommandKind::Ship,
            Command::UpdateLocation { .. } => CommandKind::UpdateLocation,
            Command::Deliver => CommandKind::Deliver,
            Command::Cancel { .. } => CommandKind::Cancel,
            Command::Confirm => CommandKind::Confirm,
            Command::Reject { .. } => CommandKind::Reject,
        }
    }

    /// A SHA-256 digest of the command's content, used to tell a retried request (same
    /// digest) from a different request that reuses an idempotency key or an order id.
    ///
    /// It is fed by the derived `Hash`, so it is only ever compared within one process
    /// (the digest of an event read back from the log is recomputed at start-up through
    /// [`EventKind::to_command`]); a cryptographic digest means no two different requests
    /// can be crafted to look like one retry.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = Sha256Hasher(Sha256::new());
        self.hash(&mut hasher);
        Fingerprint(hasher.0.finalize().into())
    }
}

/// A command's SHA-256 digest ([`Command::fingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// Feeds what `Hash` writes into SHA-256; `finish` is never used.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

impl EventKind {
    /// The command that produced this event. Deterministic because the only derived field
    /// (the order total) is dropped, which lets the log alone answer "was this the same
    /// request?" after a restart.
    pub fn to_command(&self) -> Command {
        match self {
            EventKind::Placed(p) => Command::Place(PlaceOrder {
                customer_id: p.customer_id.clone(),
                items: p.items.clone(),
                shipping_address: p.shipping_address.clone(),
                currency: p.currency.clone(),
                confirmation: p.confirmation,
                payment_method: p.payment_method.clone(),
            }),
            EventKind::Packed { warehouse } => Command::Pack {
                warehouse: warehouse.clone(),
            },
            EventKind::Shipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => Command::Ship {
                carrier: carrier.clone(),
                tracking_number: tracking_number.clone(),
                estimated_delivery: *estimated_delivery,
            },
            EventKind::LocationUpdated { location } => Command::UpdateLocation {
                location: location.clone(),
            },
            EventKind::Delivered => Command::Deliver,
            EventKind::Cancelled { reason } => Command::Cancel {
                reason: reason.clone(),
            },
            EventKind::Confirmed => Command::Confirm,
            EventKind::Rejected { reason } => Command::Reject {
                reason: reason.clone(),
            },
        }
    }
}
