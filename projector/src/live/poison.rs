//! Which records of a batch are poison: those the decoder found at fault themselves
//! (`CodecError::is_poison`: their bytes or content, never the registry), those keyed
//! under another order, and those the fold rejected. They go to the dead-letter topic
//! (`dlq`); nothing else is ever passed over.

use crate::fold::BatchPlan;
use crate::fold::model::DecodedRecord;
use crate::live::record::Record;
use crate::sinks::dlq::{Poison, PoisonKind};
use orderflow_domain::Event;
use orderflow_schemas::CodecError;

/// A batch sorted out once, before any attempt to commit it: what decoded into events
/// and what is poison, both in log order.
pub(crate) struct Sorted {
    pub decoded: Vec<DecodedRecord>,
    pub poison: Vec<Poison>,
}

/// Splits a decoded batch into its events and its poison records.
pub(crate) fn sort_out(records: &[Record], events: Vec<Result<Event, CodecError>>) -> Sorted {
    let mut sorted = Sorted {
        decoded: Vec::with_capacity(records.len()),
        poison: Vec::new(),
    };
    for (record, event) in records.iter().zip(events) {
        match event {
            // An order's events must share its key (and so its partition), or two
            // partitions could fold the same order; such a record is poison.
            Ok(event) if record.key.as_deref() != Some(event.order_id.as_bytes()) => {
                let reason = format!("the record key is not the order id {}", event.order_id);
                sorted
                    .poison
                    .push(poison_of(record, reason, PoisonKind::KeyMismatch));
            }
            Ok(event) => sorted.decoded.push(DecodedRecord {
                position: record.position(),
                event,
            }),
            // Only poison is left as an error of a fresh record (`Lane::decode_again`); a
            // registry error of a record folded before goes nowhere, as that record does.
            Err(e) => {
                let kind = match e {
                    CodecError::Invalid(_) => PoisonKind::Invalid,
                    _ => PoisonKind::Malformed,
                };
                sorted.poison.push(poison_of(record, e.to_string(), kind));
            }
        }
    }
    sorted
}

/// The records the fold rejected (a transition the domain does not allow).
pub(crate) fn rejected_poison<'a>(
    records: &'a [Record],
    plan: &'a BatchPlan,
) -> impl Iterator<Item = Poison> + 'a {
    plan.rejected.iter().filter_map(|rejected| {
        records
            .iter()
            .find(|r| r.position() == rejected.position)
            .map(|r| poison_of(r, rejected.reason.clone(), PoisonKind::TransitionNotAllowed))
    })
}

fn poison_of(record: &Record, error: String, kind: PoisonKind) -> Poison {
    Poison {
        position: record.position(),
        key: record.key.clone(),
        value: record.payload.clone(),
        error,
        kind,
    }
}
