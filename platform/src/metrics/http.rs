//! [`HttpMetricsLayer`]: `orderflow_http_requests_total{method, route, status}` and
//! `orderflow_http_request_duration_seconds{method, route}` for every request a router
//! answers.
//!
//! `route` is the template the router matched (`/orders/{id}/pack`), from axum's
//! [`MatchedPath`], never the raw path: an id in a label would make a series per order.
//! Requests no route matched are `unmatched`; methods outside the standard ones are
//! `other`, so a client cannot mint label values either.
//!
//! Cost per request: one `Instant` at each end, an `Arc` clone, a read lock and a map
//! lookup by route, and the counter's and histogram's atomic updates. The series handles
//! are built once per (route, method, status) and kept, so the request path allocates
//! nothing (the facade's `counter!` with owned labels would allocate a key each time). The
//! command service serves some 16k requests per second on two cores.

use ::metrics::{Counter, Histogram};
use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Layer, Service};

const REQUESTS: &str = "orderflow_http_requests_total";
const DURATION: &str = "orderflow_http_request_duration_seconds";

/// The route label of a request no route matched (the router's fallback).
pub const UNMATCHED: &str = "unmatched";

/// Records the HTTP series of the routes it wraps. Add it with `Router::layer` after all
/// routes (including `/metrics` and the probes) are on the router, so every route and the
/// fallback are wrapped and the matched route is known; [`super::install`] must have run
/// before [`HttpMetricsLayer::new`], or the layer records nothing (metrics disabled).
#[derive(Clone, Default)]
pub struct HttpMetricsLayer {
    series: Option<Arc<Series>>,
}

impl HttpMetricsLayer {
    /// A layer that records when a recorder is installed, and passes requests through
    /// untouched otherwise.
    pub fn new() -> Self {
        HttpMetricsLayer {
            series: super::handle().map(|_| Arc::default()),
        }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> HttpMetrics<S> {
        HttpMetrics {
            inner,
            series: self.series.clone(),
        }
    }
}

/// The service [`HttpMetricsLayer`] makes.
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    series: Option<Arc<Series>>,
}

impl<S, B, R> Service<Request<B>> for HttpMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = HttpMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = self.series.as_ref().map(|series| Started {
            series: series.clone(),
            method: method_label(request.method()),
            route: request.extensions().get::<MatchedPath>().cloned(),
            at: Instant::now(),
        });
        HttpMetricsFuture {
            inner: self.inner.call(request),
            started,
        }
    }
}

/// What a request's series need once its response is ready.
struct Started {
    series: Arc<Series>,
    method: &'static str,
    route: Option<MatchedPath>,
    at: Instant,
}

pin_project_lite::pin_project! {
    /// The inner service's response, recorded when it is ready.
    pub struct HttpMetricsFuture<F> {
        #[pin]
        inner: F,
        started: Option<Started>,
    }
}

impl<F, R, E> Future for HttpMetricsFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let (Some(started), Ok(response)) = (this.started.take(), &output) {
            let route = started
                .route
                .as_ref()
                .map_or(UNMATCHED, MatchedPath::as_str);
            let status = response.status().as_u16();
            let elapsed = started.at.elapsed();
            started
                .series
                .record(started.method, route, status, elapsed);
        }
        Poll::Ready(output)
    }
}

/// The method label: the standard methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The series handles seen so far, by route. Written only the first time a route, method
/// and status come together; read by every request.
#[derive(Default)]
pub(super) struct Series {
    routes: RwLock<HashMap<Box<str>, RouteSeries>>,
}

/// One route's series: few methods and statuses, so a list beats a map.
#[derive(Default)]
struct RouteSeries {
    durations: Vec<(&'static str, Histogram)>,
    requests: Vec<(&'static str, u16, Counter)>,
}

impl Series {
    fn record(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            if routes
                .get(route)
                .is_some_and(|series| series.record(method, status, elapsed))
            {
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let series = routes.entry(route.into()).or_default();
        series.add(method, route, status);
        series.record(method, status, elapsed);
    }
}

impl RouteSeries {
    /// Records into the series if both are known already.
    fn record(&self, method: &'static str, status: u16, elapsed: Duration) -> bool {
        let requests = self
            .requests
            .iter()
            .find(|(m, s, _)| *m == method && *s == status);
        let duration = self.durations.iter().find(|(m, _)| *m == method);
        let (Some((_, _, requests)), Some((_, duration))) = (requests, duration) else {
            return false;
        };
        requests.increment(1);
        duration.record(elapsed.as_secs_f64());
        true
    }

    fn add(&mut self, method: &'static str, route: &str, status: u16) {
        if !self.durations.iter().any(|(m, _)| *m == method) {
            let route = route.to_owned();
            let histogram = ::metrics::histogram!(DURATION, "method" => method, "route" => route);
            self.durations.push((method, histogram));
        }
        if !self
            .requests
            .iter()
            .any(|(m, s, _)| *m == method && *s == status)
        {
            let (route, status_label) = (route.to_owned(), status.to_string());
            let counter = ::metrics::counter!(
                REQUESTS,
                "method" => method, "route" => route, "status" => status_label
            );
            self.requests.push((method, status, counter));
        }
    }
}
