//! W3C Trace Context across the services' boundaries: HTTP request headers in, Kafka
//! record headers out (the command service's append) and in (the projector's batch).

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Most links one batch span gets; the SDK's own default limit, stated so a batch of
/// thousands of records does not build a list only to have it cut.
const MAX_LINKS: usize = 128;

/// The trace id of `span` (invalid when the span is disabled or has no trace context).
/// Starts the span's OpenTelemetry side: set its parent and links before calling this.
pub fn trace_id(span: &Span) -> TraceId {
    span.context().span().span_context().trace_id()
}

/// Records the trace id of `span` in its `trace_id` field (which the span must declare
/// as `tracing::field::Empty`), so the logs inside it carry the id.
pub fn record_trace_id(span: &Span) {
    let id = trace_id(span);
    if id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(id));
    }
}

/// Makes the trace context of `headers` (`traceparent`, `tracestate`) the parent of
/// `span`, if they hold one.
pub(super) fn adopt_parent(span: &Span, headers: &axum::http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HttpHeaders(headers));
    if parent.span().span_context().is_valid() {
        // Only a span already started refuses; ours is new.
        let _ = span.set_parent(parent);
    }
}

struct HttpHeaders<'a>(&'a axum::http::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// The Kafka record headers that carry `span`'s trace context on (`traceparent` and, when
/// there is one, `tracestate`); `None` when the span has no context (tracing disabled).
pub fn kafka_headers(span: &Span) -> Option<OwnedHeaders> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut headers = KafkaHeaders(Some(OwnedHeaders::new_with_capacity(2)));
    TraceContextPropagator::new().inject_context(&context, &mut headers);
    headers.0
}

struct KafkaHeaders(Option<OwnedHeaders>);

impl Injector for KafkaHeaders {
    fn set(&mut self, key: &str, value: String) {
        self.0 = self.0.take().map(|headers| {
            headers.insert(Header {
                key,
                value: Some(&value),
            })
        });
    }
}

/// The trace context a Kafka record carried from the request that appended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTrace(SpanContext);

impl RecordTrace {
    pub fn trace_id(&self) -> TraceId {
        self.0.trace_id()
    }
}

/// The trace context in a record's headers, if it has a valid `traceparent`.
pub fn record_trace<H: Headers>(headers: &H) -> Option<RecordTrace> {
    let reader = RecordHeaders(headers);
    reader.get("traceparent")?;
    let context = TraceContextPropagator::new().extract(&reader);
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(RecordTrace(span_context))
}

struct RecordHeaders<'a, H>(&'a H);

impl<H: Headers> Extractor for RecordHeaders<'_, H> {
    fn get(&self, key: &str) -> Option<&str> {
        (0..self.0.count())
            .filter_map(|i| self.0.try_get(i))
            .find(|h| h.key == key)
            .and_then(|h| std::str::from_utf8(h.value?).ok())
    }

    fn keys(&self) -> Vec<&str> {
        (0..self.0.count())
            .filter_map(|i| self.0.try_get(i))
            .map(|h| h.key)
            .collect()
    }
}

/// Ties a span that applies many records to the traces they came from, following the
/// OpenTelemetry messaging conventions for batches: when all of them belong to one trace,
/// the span continues it (its parent is the first record's producer span), so a lone
/// command's trace runs on into the projection; otherwise it starts a trace of its own
/// with a link to each record's context (at most [`MAX_LINKS`]). Then records the span's
/// trace id for the logs (see [`record_trace_id`]). Call it on a span not yet entered.
pub fn follow_records<'a>(span: &Span, traces: impl IntoIterator<Item = &'a RecordTrace>) {
    if span.is_disabled() {
        return;
    }
    let traces: Vec<&RecordTrace> = traces.into_iter().take(MAX_LINKS).collect();
    match traces.split_first() {
        Some((first, rest)) if rest.iter().all(|t| t.trace_id() == first.trace_id()) => {
            let parent = Context::new().with_remote_span_context(first.0.clone());
            let _ = span.set_parent(parent);
        }
        _ => {
            for trace in traces {
                span.add_link(trace.0.clone());
            }
        }
    }
    record_trace_id(span);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Telemetry, TelemetrySettings};
    use axum::http::{HeaderMap, HeaderValue};

    /// Runs `test` with spans traced (no exporter).
    fn traced(test: impl FnOnce()) {
        let settings = TelemetrySettings {
            filter: Some("info".into()),
            ..TelemetrySettings::default()
        };
        let telemetry = Telemetry::new(&settings).unwrap();
        tracing::dispatcher::with_default(&telemetry.dispatch(&settings), test);
    }

    /// A span continuing the trace `trace` (32 hex digits).
    fn span_in(trace: &str) -> Span {
        let mut headers = HeaderMap::new();
        let parent = format!("00-{trace}-00f067aa0ba902b7-01");
        headers.insert("traceparent", HeaderValue::from_str(&parent).unwrap());
        let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
        adopt_parent(&span, &headers);
        span
    }

    fn record_of(span: &Span) -> RecordTrace {
        let headers = kafka_headers(span).expect("a span with a context has headers");
        record_trace(&headers).expect("the headers hold a valid traceparent")
    }

    const A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const B: &str = "0af7651916cd43dd8448eb211c80319c";

    #[test]
    fn a_records_headers_carry_the_trace_of_the_span_that_appended_it() {
        traced(|| {
            let record = record_of(&span_in(A));
            assert_eq!(record.trace_id().to_string(), A);
        });
    }

    #[test]
    fn a_batch_of_one_trace_continues_it_and_a_batch_of_several_links_to_each() {
        traced(|| {
            let (a1, a2, b) = (
                record_of(&span_in(A)),
                record_of(&span_in(A)),
                record_of(&span_in(B)),
            );
            let one = tracing::info_span!("project batch", trace_id = tracing::field::Empty);
            follow_records(&one, [&a1, &a2]);
            assert_eq!(trace_id(&one).to_string(), A);

            let several = tracing::info_span!("project batch", trace_id = tracing::field::Empty);
            follow_records(&several, [&a1, &b]);
            let own = trace_id(&several).to_string();
            assert!(own != A && own != B, "a trace of its own, linked to both");
        });
    }

    #[test]
    fn records_without_a_valid_traceparent_have_no_trace() {
        let headers = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some("00-not-a-trace"),
        });
        assert_eq!(record_trace(&headers), None);
        assert_eq!(record_trace(&OwnedHeaders::new()), None);
    }
}
