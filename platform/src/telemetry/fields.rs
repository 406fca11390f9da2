//! The fields of text logs: `tracing-subscriber`'s own formatting, less the `otel.*`
//! fields (span name, kind, status), which are for the exporter and would only repeat on
//! every line logged inside a request.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// Formats fields as the default text format does, skipping `otel.*`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LogFields;

impl<'writer> FormatFields<'writer> for LogFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = WithoutOtel(DefaultVisitor::new(writer, true));
        fields.record(&mut visitor);
        visitor.0.finish()
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let is_empty = current.fields.is_empty();
        let mut visitor = WithoutOtel(DefaultVisitor::new(current.as_writer(), is_empty));
        fields.record(&mut visitor);
        visitor.0.finish()
    }
}

struct WithoutOtel<V>(V);

fn shown(field: &Field) -> bool {
    !field.name().starts_with("otel.")
}

impl<V: Visit> Visit for WithoutOtel<V> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if shown(field) {
            self.0.record_debug(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if shown(field) {
            self.0.record_str(field, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if shown(field) {
            self.0.record_i64(field, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if shown(field) {
            self.0.record_u64(field, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if shown(field) {
            self.0.record_bool(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if shown(field) {
            self.0.record_error(field, value);
        }
    }
}
