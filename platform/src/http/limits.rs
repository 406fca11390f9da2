//! [`Guard`]: the outermost layer of every service. It sheds load past the concurrency
//! limit, bounds the time a client may take to send a body and the time a request may take
//! in all, and answers each with problem+json (and counts it in
//! `orderflow_http_requests_shed_total{reason}`).
//!
//! The cost per request is a few atomic operations, one timer and one boxed future (axum's
//! own server boxes the body and the future the same way): the command service serves some
//! 16k requests per second on two cores and must go on doing so.

use super::HttpSettings;
use crate::Problem;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;
use tower::Service;

/// Requests to the health endpoints served at once, apart from the API's limit, so an
/// overloaded service still answers its orchestrator's probes.
const HEALTH_CONCURRENCY: u32 = 32;

/// Seconds a client is asked to wait after a shed or timed-out request.
const RETRY_AFTER_SECS: u32 = 1;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The limits around a service `S` (the service's router, with its own layers inside).
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    limits: Arc<Limits>,
}

struct Limits {
    in_flight: AtomicU32,
    max_in_flight: u32,
    health_in_flight: AtomicU32,
    body_timeout: Duration,
    request_timeout: Duration,
}

impl<S> Guard<S> {
    pub fn new(inner: S, settings: &HttpSettings) -> Self {
        Guard {
            inner,
            limits: Arc::new(Limits {
                in_flight: AtomicU32::new(0),
                max_in_flight: settings.max_concurrent_requests,
                health_in_flight: AtomicU32::new(0),
                body_timeout: settings.body_timeout(),
                request_timeout: settings.request_timeout(),
            }),
        }
    }
}

impl<S, B> Service<Request<B>> for Guard<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> BoxFuture {
        // `/metrics` too: an overloaded service is when its metrics matter most.
        let health = matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics");
        let Some(permit) = Permit::take(&self.limits, health) else {
            shed("concurrency");
            return Box::pin(std::future::ready(Ok(overloaded())));
        };
        let expired = (!request.body().is_end_stream()).then(|| Arc::new(AtomicBool::new(false)));
        let body_timeout = self.limits.body_timeout;
        let request = request.map(|body| match &expired {
            Some(expired) => Body::new(DeadlineBody::new(body, body_timeout, expired.clone())),
            None => Body::new(body),
        });
        let response = self.inner.call(request);
        let request_timeout = self.limits.request_timeout;
        Box::pin(async move {
            let _permit = permit;
            let response = match tokio::time::timeout(request_timeout, response).await {
                Ok(Ok(response)) => response,
                Err(_) => {
                    shed("deadline");
                    return Ok(timed_out(request_timeout));
                }
            };
            // The handler saw the body fail, whatever it answered: the client was too slow.
            if expired.is_some_and(|e| e.load(Ordering::Relaxed)) {
                shed("body_timeout");
                return Ok(body_too_slow(body_timeout));
            }
            Ok(response)
        })
    }
}

/// A place among the requests in flight, given back when the request ends or is dropped.
struct Permit {
    limits: Arc<Limits>,
    health: bool,
}

impl Permit {
    fn take(limits: &Arc<Limits>, health: bool) -> Option<Permit> {
        let (counter, max) = limits.counter(health);
        if counter.fetch_add(1, Ordering::AcqRel) >= max {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit {
            limits: limits.clone(),
            health,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limits
            .counter(self.health)
            .0
            .fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    fn counter(&self, health: bool) -> (&AtomicU32, u32) {
        if health {
            (&self.health_in_flight, HEALTH_CONCURRENCY)
        } else {
            (&self.in_flight, self.max_in_flight)
        }
    }
}

/// Counts a request this layer (or the rate limit) answered itself, by why
/// (`orderflow_http_requests_shed_total`). Static labels: this allocates nothing.
pub(crate) fn shed(reason: &'static str) {
    ::metrics::counter!("orderflow_http_requests_shed_total", "reason" => reason).increment(1);
}

fn overloaded() -> Response {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Too many requests are in flight; retry shortly.",
    )
    .retry_after(RETRY_AFTER_SECS)
    .into_response()
}

/// 503 rather than 504: the services answer a dependency that is too slow with 503 and
/// `Retry-After` everywhere else (a command past its timeout, a pool that has no
/// connection), so a client has one rule for "not now", and 504 is a gateway's answer.
fn timed_out(limit: Duration) -> Response {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        format!("The request took longer than {} ms.", limit.as_millis()),
    )
    .retry_after(RETRY_AFTER_SECS)
    .into_response()
}

fn body_too_slow(limit: Duration) -> Response {
    let mut response = Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        format!(
            "The request body did not arrive within {} ms.",
            limit.as_millis()
        ),
    )
    .into_response();
    // What is left of the body is still on the wire: the connection cannot be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once `timeout` has passed since it was first read, and says
/// so in `expired`. The deadline is for the whole body, not between frames, so a client
/// that trickles a byte at a time cannot hold the request open either.
struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl<B> DeadlineBody<B> {
    fn new(inner: B, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        DeadlineBody {
            inner,
            timeout,
            deadline: None,
            expired,
        }
    }
}

/// The error a body past its deadline fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn settings(max: u32) -> HttpSettings {
        HttpSettings {
            max_concurrent_requests: max,
            body_timeout_ms: 50,
            request_timeout_ms: 200,
            ..HttpSettings::default()
        }
    }

    fn slow_app() -> axum::Router {
        axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/healthz", axum::routing::get(|| async { "alive" }))
            .route(
                "/echo",
                axum::routing::post(|body: Bytes| async move { body }),
            )
    }

    #[tokio::test]
    async fn past_the_limit_requests_are_shed_with_503_and_retry_after_but_health_answers() {
        let guard = Guard::new(slow_app(), &settings(1));
        let first = tokio::spawn(guard.clone().oneshot(get("/slow")));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let shed = guard.clone().oneshot(get("/slow")).await.unwrap();
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        assert_eq!(shed.headers()[header::CONTENT_TYPE], crate::PROBLEM_JSON);
        let health = guard.clone().oneshot(get("/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
        // The first one ends at the request deadline and gives its place back.
        assert_eq!(first.await.unwrap().unwrap().status(), 503);
        assert_eq!(guard.limits.in_flight.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_answers_503_with_retry_after() {
        let response = Guard::new(slow_app(), &settings(8))
            .oneshot(get("/slow"))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn a_body_that_stalls_answers_408_and_closes_the_connection() {
        let request = Request::post("/echo").body(StalledBody).unwrap();
        let response = Guard::new(slow_app(), &settings(8))
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), 408);
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn a_body_that_arrives_in_time_is_served() {
        let request = Request::post("/echo").body(Body::from("hello")).unwrap();
        let response = Guard::new(slow_app(), &settings(8))
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    /// A body whose client sent the headers and then nothing.
    struct StalledBody;

    impl HttpBody for StalledBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            Poll::Pending
        }
    }
}
