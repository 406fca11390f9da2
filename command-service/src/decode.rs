//! Reading a record back from the log: only a record that is itself at fault is skipped.
//! Whatever keeps the registry from answering for it is waited out at that record, so the
//! partition's state never misses an event.

use crate::metrics;
use crate::worker::WorkerContext;
use orderflow_domain::Event;
use orderflow_platform::Backoff;
use orderflow_platform::partition_for_key;
use orderflow_schemas::CodecError;
use rdkafka::message::{Message, OwnedMessage};

/// The event a record read back from the log holds; `None` for poison, which the command
/// side skips (the projector dead-letters it).
pub(crate) async fn read_back(ctx: &WorkerContext, record: &OwnedMessage) -> Option<Event> {
    let event = match decode_patiently(ctx, record).await {
        Ok(event) => event,
        Err(e) => {
            ctx.readiness.count_ignored();
            tracing::error!(partition = record.partition(), offset = record.offset(), error = %e, "skipping undecodable record");
            return None;
        }
    };
    let home = partition_for_key(event.order_id.as_bytes(), ctx.partitions);
    if record.key() != Some(event.order_id.as_bytes()) || record.partition() != home {
        ctx.readiness.count_ignored();
        tracing::error!(partition = record.partition(), offset = record.offset(), order_id = %event.order_id, "skipping record whose key is not its order id or that is not in its key's partition");
        return None;
    }
    Some(event)
}

/// Decodes a record, retrying with backoff whatever is not the record's fault; only poison
/// comes back as an error. A schema id the registry does not know stalls the partition
/// (not ready, naming the record) until the record decodes: skipping it would fold its
/// order without one of its events, and every later command would be decided on that.
async fn decode_patiently(ctx: &WorkerContext, record: &OwnedMessage) -> Result<Event, CodecError> {
    let payload = record.payload().unwrap_or_default();
    let partition = record.partition();
    let mut backoff = Backoff::standard();
    let (mut stalled, mut registry_failed) = (false, false);
    loop {
        let e = match ctx.codec.decode(payload).await {
            Err(e) if !e.is_poison() => e,
            decoded => {
                if stalled {
                    ctx.readiness.resume(partition);
                }
                if registry_failed {
                    metrics::dependency_up("registry", true);
                }
                return decoded;
            }
        };
        if let CodecError::UnknownSchema { .. } = e {
            let offset = record.offset();
            let reason = format!("partition {partition} at offset {offset}: {e}");
            ctx.readiness.stall(partition, reason);
            stalled = true;
        } else {
            registry_failed = true;
            metrics::dependency_up("registry", false);
            tracing::warn!(error = %e, "registry unavailable while reading the log; retrying");
        }
        backoff.wait().await;
    }
}
