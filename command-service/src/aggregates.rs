//! The order aggregates of one partition, folded from the log, and the answers they give
//! without a new event (idempotent replays, preconditions, who may touch an order, the
//! location cap).

use crate::error::CommandError;
use crate::idempotency::{KeyDigest, KeyRecord, Keys};
use orderflow_auth::Principal;
use orderflow_domain::{Command, Event, EventKind, Fingerprint, FoldOutcome, Order, Status, fold};
use std::collections::HashMap;
use uuid::Uuid;

/// A command as the HTTP layer hands it to a partition worker.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    pub order_id: String,
    pub command: Command,
    /// `If-Match`: `None` when absent.
    pub precondition: Option<Precondition>,
    /// The caller-scoped key ([`crate::idempotency::scoped_key`]), as the log keeps it.
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
    /// Who sent it: only the order's customer or an operator may change an existing order.
    pub caller: Principal,
    /// The request's span: the worker's work on the command is its child, and the event's
    /// record carries its trace on (`orderflow_platform::telemetry`).
    pub span: tracing::Span,
}

/// The versions an `If-Match` header accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `If-Match: *`: any version, as long as the order exists.
    Exists,
    /// `If-Match: "3"` (or a list): one of these versions.
    Versions(Vec<u64>),
}

/// A command's acknowledgement: where its event is in the log and what it made of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub order_id: String,
    pub status: Status,
    pub version: u64,
    pub event_id: Uuid,
    pub partition: i32,
    pub offset: i64,
    /// The command created the order (201 rather than 200).
    pub created: bool,
    /// Answered from the log without appending (an idempotent retry).
    pub replayed: bool,
}

/// What the write side keeps of one order: only what its answers need.
#[derive(Debug)]
struct Entry {
    status: Option<Status>,
    version: u64,
    /// The customer the order was placed for: who may cancel or inspect it.
    owner: Box<str>,
    placed_fingerprint: Fingerprint,
    last_event_id: Uuid,
    last_offset: i64,
    /// Accepted location updates, for the cap.
    locations: u32,
    keys: Keys,
}

/// The aggregates of one partition.
#[derive(Debug)]
pub struct Aggregates {
    partition: i32,
    /// Most location updates one order may take; past it commands get 409, so no client
    /// can grow an order (and its history, cache document and idempotency index) forever.
    max_locations: u32,
    entries: HashMap<String, Entry>,
}

impl Aggregates {
    pub fn new(partition: i32, max_locations: u32) -> Self {
        Aggregates {
            partition,
            max_locations,
            entries: HashMap::new(),
        }
    }

    /// Number of orders known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The aggregate state of `order_id` (a fresh one if it was never placed).
    pub fn order(&self, order_id: &str) -> Order {
        match self.entries.get(order_id) {
            Some(e) => Order {
                id: order_id.to_owned(),
                status: e.status,
                version: e.version,
            },
            None => Order::new(order_id),
        }
    }

    /// Folds one event read from the log at `offset`, with the shared fold rule.
    pub fn fold(&mut self, event: &Event, offset: i64) -> FoldOutcome {
        let folded = fold(self.order(&event.order_id), event);
        if folded.outcome != FoldOutcome::Accepted {
            return folded.outcome;
        }
        let fingerprint = || event.kind.to_command().fingerprint();
        let entry = self
            .entries
            .entry(event.order_id.clone())
            .or_insert_with(|| Entry {
                status: None,
                version: 0,
                owner: match &event.kind {
                    EventKind::Placed(placed) => placed.customer_id.as_str().into(),
                    _ => "".into(),
                },
                placed_fingerprint: fingerprint(),
                last_event_id: event.meta.event_id,
                last_offset: offset,
                locations: 0,
                keys: Keys::default(),
            });
        entry.status = folded.order.status;
        entry.version = folded.order.version;
        entry.last_event_id = event.meta.event_id;
        entry.last_offset = offset;
        if matches!(event.kind, EventKind::LocationUpdated { .. }) {
            entry.locations += 1;
        }
        if let Some(key) = &event.meta.idempotency_key {
            entry.keys.insert(KeyRecord {
                key: KeyDigest::of(key),
                fingerprint: fingerprint(),
                version: event.version,
                status: event.kind.resulting_status(),
                event_id: event.meta.event_id,
                offset,
            });
        }
        FoldOutcome::Accepted
    }

    /// The order as `caller` may see it: another customer's order is not found, so its
    /// existence leaks nothing.
    pub fn inspect(&self, order_id: &str, caller: &Principal) -> Result<Order, CommandError> {
        match self.entries.get(order_id) {
            Some(entry) if caller.may_act_for(&entry.owner) => Ok(self.order(order_id)),
            _ => Err(CommandError::NotFound(order_id.to_owned())),
        }
    }

    /// Answers `request` from what is already in the log, when it can be: a retry with a
    /// known idempotency key, a repeated placement, a missing order or a failed `If-Match`.
    /// `None` means the command must be decided.
    pub fn answer_without_appending(
        &self,
        request: &CommandRequest,
    ) -> Option<Result<Ack, CommandError>> {
        let id = &request.order_id;
        let entry = self.entries.get(id);
        let is_place = matches!(request.command, Command::Place(_));
        // Fulfilment's outcomes come from its service role, checked before the worker
        // (`http::role_refusal`); every other change is the customer's or staff's.
        let outcome = matches!(request.command, Command::Confirm | Command::Reject { .. });
        if let Some(entry) = entry
            && !is_place
            && !outcome
            && !request.caller.may_act_for(&entry.owner)
        {
            return Some(Err(CommandError::NotFound(id.clone())));
        }
        if let (Some(entry), Some(key)) = (entry, &request.idempotency_key)
            && let Some(record) = entry.keys.find(key)
        {
            if record.fingerprint != request.command.fingerprint() {
                return Some(Err(CommandError::IdempotencyKeyReused));
            }
            return Some(Ok(self.ack(
                id,
                record.status,
                record.version,
                record.event_id,
                record.offset,
                is_place,
            )));
        }
        if let Some(entry) = entry
            && matches!(request.command, Command::UpdateLocation { .. })
            && entry.locations >= self.max_locations
        {
            return Some(Err(CommandError::LocationLimit {
                order_id: id.clone(),
                limit: self.max_locations,
            }));
        }
        match (entry, is_place) {
            (Some(entry), true) => Some(
                if entry.placed_fingerprint == request.command.fingerprint() {
                    let status = entry.status.unwrap_or(Status::Placed);
                    Ok(self.ack(
                        id,
                        status,
                        entry.version,
                        entry.last_event_id,
                        entry.last_offset,
                        false,
                    ))
                } else {
                    Err(CommandError::AlreadyExists(id.clone()))
                },
            ),
            (None, false) => Some(Err(CommandError::NotFound(id.clone()))),
            (Some(entry), false) => {
                precondition_failure(id, entry.version, request.precondition.as_ref()).map(Err)
            }
            (None, true) => None,
        }
    }

    fn ack(
        &self,
        order_id: &str,
        status: Status,
        version: u64,
        event_id: Uuid,
        offset: i64,
        created: bool,
    ) -> Ack {
        Ack {
            order_id: order_id.to_owned(),
            status,
            version,
            event_id,
            partition: self.partition,
            offset,
            created,
            replayed: true,
        }
    }
}

fn precondition_failure(
    order_id: &str,
    current: u64,
    precondition: Option<&Precondition>,
) -> Option<CommandError> {
    match precondition {
        Some(Precondition::Versions(versions)) if !versions.contains(&current) => {
            Some(CommandError::VersionMismatch {
                order_id: order_id.to_owned(),
                expected: versions
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                current,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "aggregates_tests.rs"]
mod tests;
