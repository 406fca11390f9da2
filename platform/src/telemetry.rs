//! Tracing set-up shared by the binaries: logs, and OpenTelemetry traces.
//!
//! Every process installs one `tracing` subscriber: an env filter, the OpenTelemetry layer
//! and the log formatter. The OpenTelemetry layer is always there, so every request and
//! batch span has a W3C trace context (logs carry its trace id, Kafka records carry it on,
//! see [`kafka_headers`]); spans leave the process only when an OTLP endpoint is
//! configured ([`TelemetrySettings::otlp_endpoint`], or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). Without one, no
//! exporter and no background thread exist, and the sampler keeps nothing unless an
//! incoming `traceparent` asks for it: a span then costs its `tracing` bookkeeping and an
//! unsampled span context, nothing more.
//!
//! Export is OTLP over HTTP/protobuf (port 4318 of Jaeger, Tempo or an OpenTelemetry
//! collector), batched on the SDK's own thread; the standard `OTEL_*` variables tune it
//! (`OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, ...).
//! [`shutdown_tracing`] flushes what is queued when the process ends.
//!
//! Logs: the request span (see [`TraceLayer`]) and the projector's batch span hold
//! `trace_id` and, when the client sent `X-Correlation-Id`, `correlation_id` as fields,
//! so every line logged inside them carries both: in JSON under `span`/`spans`, in text
//! in the span prefix (`request{... trace_id=... correlation_id=...}: message`).

mod fields;
mod http;
mod propagation;

pub use http::{TraceFuture, TraceLayer, TraceService};
pub use propagation::{
    RecordTrace, follow_records, kafka_headers, record_trace, record_trace_id, trace_id,
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::sync::OnceLock;
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The instrumentation scope of the services' spans.
const TRACER: &str = "orderflow";

/// The provider [`init_tracing`] installed, for [`shutdown_tracing`].
static GLOBAL: OnceLock<Telemetry> = OnceLock::new();

/// What a process's telemetry is set up from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// The OTLP/HTTP collector's base URL (`http://localhost:4318`; `/v1/traces` is
    /// appended). `None`: the standard `OTEL_EXPORTER_OTLP_*` variables decide, and
    /// without them nothing is exported.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the spans.
    pub service_name: String,
    /// One JSON object per log line instead of text.
    pub json: bool,
    /// What is logged and traced, as `RUST_LOG` would say it; `None`: `RUST_LOG`, else
    /// `info` (spans are at `info`: a filter above it leaves requests without a trace).
    pub filter: Option<String>,
}

impl TelemetrySettings {
    /// From the environment: `ORDERFLOW_OTLP_ENDPOINT` (else the `OTEL_EXPORTER_OTLP_*`
    /// variables), `OTEL_SERVICE_NAME` (else the binary's name), `ORDERFLOW_LOG_FORMAT`.
    pub fn from_env() -> Self {
        let binary = std::env::args()
            .next()
            .and_then(|path| {
                let name = std::path::Path::new(&path)
                    .file_stem()?
                    .to_str()?
                    .to_owned();
                Some(name)
            })
            .unwrap_or_else(|| "orderflow".to_owned());
        TelemetrySettings {
            otlp_endpoint: non_empty_var("ORDERFLOW_OTLP_ENDPOINT"),
            service_name: non_empty_var("OTEL_SERVICE_NAME").unwrap_or(binary),
            json: std::env::var("ORDERFLOW_LOG_FORMAT").is_ok_and(|f| f == "json"),
            filter: None,
        }
    }

    /// Whether spans are exported: an endpoint is set here or in the standard variables.
    pub fn exports(&self) -> bool {
        self.otlp_endpoint.is_some()
            || non_empty_var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || non_empty_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The exporter could not be built (an endpoint that is not a URL, mostly).
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces over OTLP")]
pub struct TelemetryError(#[source] opentelemetry_otlp::ExporterBuildError);

/// A process's trace pipeline: the tracer provider behind its subscriber.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// The pipeline `settings` ask for: an OTLP exporter when they name an endpoint,
    /// else span contexts only.
    pub fn new(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let builder = SdkTracerProvider::builder().with_resource(resource);
        let exporting = settings.exports();
        let provider = if exporting {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary);
            if let Some(base) = &settings.otlp_endpoint {
                exporter =
                    exporter.with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')));
            }
            let exporter = exporter.build().map_err(TelemetryError)?;
            // The sampler is the SDK's default: `OTEL_TRACES_SAMPLER`, else parent-based
            // always-on.
            builder.with_batch_exporter(exporter).build()
        } else {
            // Nothing to export to: keep only what a caller's sampled `traceparent` asks
            // for (and that goes nowhere either), so a span costs no recording.
            let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
            builder.with_sampler(sampler).build()
        };
        Ok(Telemetry {
            provider,
            exporting,
        })
    }

    /// Whether spans leave the process.
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// A subscriber over this pipeline, logging as `settings` say, for
    /// `tracing::dispatcher::set_default` (tests) or `set_global_default`.
    pub fn dispatch(&self, settings: &TelemetrySettings) -> Dispatch {
        Dispatch::new(self.subscriber(settings))
    }

    fn subscriber(
        &self,
        settings: &TelemetrySettings,
    ) -> impl tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>
    {
        // Postgres notices ("schema ... already exists, skipping") are not worth a line each.
        let filter = match &settings.filter {
            Some(directives) => EnvFilter::new(directives),
            None => EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn")),
        };
        // Location, thread and busy/idle time would be attributes on every span: the
        // span's name and fields say enough, and each of those costs per span.
        let otel = tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(TRACER))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            // Nothing here reads OpenTelemetry's current context: spans carry their own.
            .with_context_activation(false);
        // Logs go to standard error, so the tools' reports on standard output stay clean
        // (and container runtimes collect both).
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let fmt = if settings.json {
            fmt.json().boxed()
        } else {
            fmt.fmt_fields(fields::LogFields).boxed()
        };
        tracing_subscriber::registry()
            .with(filter)
            .with(otel)
            .with(fmt)
    }

    /// Exports what is queued now (a test's collector needs it before it looks).
    pub fn flush(&self) {
        if self.exporting
            && let Err(e) = self.provider.force_flush()
        {
            tracing::warn!(error = %e, "flushing traces failed");
        }
    }

    /// Exports what is queued and stops exporting.
    pub fn shutdown(&self) {
        if self.exporting
            && let Err(e) = self.provider.shutdown()
        {
            tracing::warn!(error = %e, "shutting the trace exporter down failed");
        }
    }
}

/// Installs the global subscriber from the environment (see [`TelemetrySettings::from_env`]):
/// `RUST_LOG` filters (default `info`, Postgres notices at `warn`), `ORDERFLOW_LOG_FORMAT=json`
/// switches to one JSON object per line for log shippers, and traces are exported when an
/// OTLP endpoint is set. Call [`shutdown_tracing`] before the process ends.
pub fn init_tracing() {
    let settings = TelemetrySettings::from_env();
    let telemetry = Telemetry::new(&settings).unwrap_or_else(|e| {
        // Logs are not set up yet: say it where they would have gone, and go on without.
        eprintln!("{e}: {:?}; spans are not exported", e.0);
        Telemetry::new(&TelemetrySettings {
            otlp_endpoint: None,
            ..settings.clone()
        })
        .expect("a pipeline without an exporter always builds")
    });
    // W3C Trace Context for any library that propagates through OpenTelemetry's global
    // (the services' own propagation uses it directly).
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    // A second call (tests) finds a subscriber installed; that is fine.
    if telemetry.subscriber(&settings).try_init().is_ok() {
        if telemetry.is_exporting() {
            tracing::info!(service = %settings.service_name, "exporting traces over OTLP");
        }
        let _ = GLOBAL.set(telemetry);
    }
}

/// Flushes and stops the exporter [`init_tracing`] started, if any: the last spans of a
/// process that is ending.
pub fn shutdown_tracing() {
    if let Some(telemetry) = GLOBAL.get() {
        telemetry.shutdown();
    }
}
