//! Metrics: the Prometheus recorder every service installs ([`install`]), the `/metrics`
//! endpoint ([`routes`]), the HTTP series of every request ([`HttpMetricsLayer`]) and the
//! switch that turns them all off ([`MetricsSettings`]).
//!
//! Code records through the `metrics` facade (`metrics::counter!`, `gauge!`, `histogram!`)
//! wherever it is; the names are the contract in `docs/operations.md` ("Metrics"). With no
//! recorder installed every such call is a no-op, which is what `--metrics disabled` does:
//! the bench compares the two.
//!
//! One recorder serves the whole process: tests start several services in one process, so
//! [`install`] installs it on the first call and hands the same handle to every later one.

mod http;

pub use http::{HttpMetrics, HttpMetricsFuture, HttpMetricsLayer};
pub use metrics_exporter_prometheus::PrometheusHandle;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::sync::OnceLock;
use std::time::Duration;

/// The content type of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds of every `_seconds` histogram: from half a millisecond (a command the
/// service answers from memory) to ten seconds (the command timeout, a long wait).
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds of every `_records` histogram (records per batch: the projector's batches
/// hold up to 2000 by default).
const RECORDS_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0,
];

/// How often histogram samples recorded since the last scrape are folded into their
/// buckets, so they do not pile up in memory when nothing scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The commit the binary was built from (`build.rs`: `ORDERFLOW_GIT_COMMIT` when set, else
/// `git rev-parse --short HEAD`, else "unknown").
pub const COMMIT: &str = env!("ORDERFLOW_BUILD_COMMIT");

/// The recorder of this process: `None` inside when another recorder was installed first.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Whether the service records metrics; flattened into each service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsSettings {
    /// `enabled`: record metrics and serve them on `/metrics`. `disabled`: install no
    /// recorder, so recording costs nothing and `/metrics` is empty.
    #[arg(
        id = "metrics_mode",
        long = "metrics",
        env = "ORDERFLOW_METRICS",
        value_enum,
        default_value_t = MetricsMode::Enabled
    )]
    pub mode: MetricsMode,
}

/// See [`MetricsSettings::mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsMode {
    Enabled,
    Disabled,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            mode: MetricsMode::Enabled,
        }
    }
}

impl MetricsSettings {
    pub fn enabled(&self) -> bool {
        self.mode == MetricsMode::Enabled
    }
}

/// Installs the process's recorder unless `settings` disable metrics, and records
/// `orderflow_build_info{service, version, commit}`. Call it at the start of `run`, before
/// the router is built ([`HttpMetricsLayer::new`] looks for the recorder then).
///
/// A later call (another service in the same process) gets the same handle. `None` when
/// metrics are disabled, or when something else installed a global recorder first (logged).
pub fn install(service: &'static str, settings: &MetricsSettings) -> Option<PrometheusHandle> {
    if !settings.enabled() {
        tracing::info!(service, "metrics are disabled");
        return None;
    }
    let handle = RECORDER.get_or_init(install_recorder).clone()?;
    ::metrics::gauge!(
        "orderflow_build_info",
        "service" => service,
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => COMMIT,
    )
    .set(1.0);
    Some(handle)
}

/// The installed recorder's handle, if [`install`] installed one.
pub fn handle() -> Option<&'static PrometheusHandle> {
    RECORDER.get().and_then(Option::as_ref)
}

fn install_recorder() -> Option<PrometheusHandle> {
    let installed = PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_records".into()), RECORDS_BUCKETS))
        .map_err(|e| e.to_string())
        .and_then(|b| b.install_recorder().map_err(|e| e.to_string()));
    let handle = match installed {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "no metrics: the recorder could not be installed");
            return None;
        }
    };
    describe();
    let upkept = handle.clone();
    // A thread, not a task: tests run services on runtimes that end before the process.
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkept.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms are folded at scrapes only");
    }
    Some(handle)
}

/// The `# HELP` lines of the series this module records.
fn describe() {
    ::metrics::describe_gauge!(
        "orderflow_build_info",
        "Always 1; the labels say which service, version and commit this is."
    );
    ::metrics::describe_counter!(
        "orderflow_http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    ::metrics::describe_histogram!(
        "orderflow_http_request_duration_seconds",
        ::metrics::Unit::Seconds,
        "Time from a request's routing to its response's headers, by method and route template."
    );
    ::metrics::describe_counter!(
        "orderflow_http_requests_shed_total",
        "Requests refused before the router: too many in flight, a rate limit, a deadline, a slow body."
    );
}

/// `GET /metrics`: the Prometheus text format. Like `/healthz` and `/readyz`, open to
/// anyone who reaches the port (no token: Prometheus scrapes without one, and the series
/// carry no order or customer ids); expose the port to the monitoring network only.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    // Metrics off: still 200, so the scrape target is up, with a comment saying why empty.
    let body = match handle() {
        Some(handle) => handle.render(),
        None => "# metrics are disabled (ORDERFLOW_METRICS=disabled)\n".to_owned(),
    };
    let content_type = HeaderValue::from_static(TEXT_FORMAT);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests;
