//! The span of a batch: one `project batch` span per batch, with the cache write after its
//! commit as a child (`cache write`). One span per batch, not per record: the batch is the
//! unit of work (one transaction, one cache write), and a span per record would multiply
//! the projector's spans by the batch size under load. A batch serves many commands'
//! traces, so, as OpenTelemetry's messaging conventions say, its span links to each
//! record's trace context (from the record's `traceparent`); a batch whose records all
//! belong to one trace (a lone command, the usual case at a low rate) continues that trace
//! instead, so the command's trace shows HTTP, append, read-back, projection and cache
//! write in one tree (`orderflow_platform::telemetry::follow_records`).

use crate::live::record::Record;
use orderflow_platform::telemetry::follow_records;
use tracing::Span;
use tracing::field::Empty;

/// The span of a batch, tied to the traces its records came from.
pub(crate) fn of(records: &[Record]) -> Span {
    let span = tracing::info_span!(
        "project batch",
        otel.kind = "consumer",
        records = records.len(),
        trace_id = Empty,
    );
    follow_records(&span, records.iter().filter_map(|r| r.trace.as_ref()));
    span
}
