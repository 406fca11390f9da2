//! [`RateLimitLayer`]: a token bucket per client, off by default.
//!
//! The layer does not know what a client is: the service passes a key function, which reads
//! whatever identifies one; the APIs put the layer inside their auth middleware and key it
//! by the authenticated principal (`orderflow_auth::principal_key`). Requests without a key are not limited here; the concurrency limit still
//! bounds them.
//!
//! Memory is bounded: a bucket that has refilled is the same as no bucket, so full buckets
//! are swept away when the table reaches [`MAX_KEYS`]; if it is still full (that many
//! clients all active at once), new clients get 429 until room is made.

use super::HttpSettings;
use crate::Problem;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Layer, Service};

/// Most clients with a bucket at once (some 100 bytes each).
pub const MAX_KEYS: usize = 100_000;

/// Least time between two sweeps of the table, so a flood of new keys cannot make every
/// request pay for a sweep.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What identifies the client of a request, if anything does.
pub type KeyFn = fn(&Parts) -> Option<String>;

/// Rate limits per key; see the module doc. A pass-through when the rate is 0.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Option<Arc<Limiter>>,
    key: KeyFn,
}

impl RateLimitLayer {
    /// A limit of `settings.rate_limit_per_second` with bursts of `rate_limit_burst` per
    /// key `key` finds.
    pub fn new(settings: &HttpSettings, key: KeyFn) -> Self {
        let limiter = (settings.rate_limit_per_second > 0).then(|| {
            Arc::new(Limiter::new(
                f64::from(settings.rate_limit_per_second),
                f64::from(settings.rate_limit_burst),
            ))
        });
        RateLimitLayer { limiter, key }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] makes.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S, B> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RateLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(limiter) = &self.layer.limiter else {
            return RateLimitFuture::Inner {
                future: self.inner.call(request),
            };
        };
        let (parts, body) = request.into_parts();
        let key = (self.layer.key)(&parts);
        if let Some(wait) = key.and_then(|key| limiter.take(key, Instant::now()).err()) {
            return RateLimitFuture::Limited {
                response: Some(too_many(wait)),
            };
        }
        RateLimitFuture::Inner {
            future: self.inner.call(Request::from_parts(parts, body)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, or 429.
    #[project = Projected]
    pub enum RateLimitFuture<F> {
        Inner { #[pin] future: F },
        Limited { response: Option<Response> },
    }
}

impl<F, E> Future for RateLimitFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Inner { future } => future.poll(cx),
            Projected::Limited { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

fn too_many(wait: Duration) -> Response {
    super::limits::shed("rate_limit");
    let secs = wait.as_secs_f64().ceil().max(1.0) as u32;
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests from this client; retry later.",
    )
    .retry_after(secs)
    .into_response()
}

/// The buckets. One lock per request while limiting is on; the critical section is a map
/// lookup and some arithmetic.
struct Limiter {
    per_second: f64,
    burst: f64,
    table: Mutex<Table>,
}

struct Table {
    buckets: HashMap<String, Bucket>,
    swept: Instant,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    fn new(per_second: f64, burst: f64) -> Self {
        Limiter {
            per_second,
            burst,
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there.
    fn take(&self, key: String, now: Instant) -> Result<(), Duration> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if !table.buckets.contains_key(&key) && table.buckets.len() >= MAX_KEYS {
            self.sweep(&mut table, now);
            if table.buckets.len() >= MAX_KEYS {
                return Err(SWEEP_EVERY);
            }
        }
        let full = Bucket {
            tokens: self.burst,
            at: now,
        };
        let bucket = table.buckets.entry(key).or_insert(full);
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Drops the buckets that have refilled: they are the same as none.
    fn sweep(&self, table: &mut Table, now: Instant) {
        if now.saturating_duration_since(table.swept) < SWEEP_EVERY {
            return;
        }
        table.swept = now;
        table
            .buckets
            .retain(|_, bucket| self.refilled(bucket, now) < self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_one_request_per_token() {
        let limiter = Limiter::new(2.0, 3.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a".into(), start).is_ok());
        }
        let wait = limiter.take("a".into(), start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.take("b".into(), start).is_ok(), "keys are apart");
        let later = start + Duration::from_millis(500);
        assert!(limiter.take("a".into(), later).is_ok());
        assert!(limiter.take("a".into(), later).is_err());
    }

    #[test]
    fn refilled_buckets_are_swept_when_the_table_is_full() {
        let limiter = Limiter::new(1.0, 1.0);
        let start = Instant::now();
        for i in 0..MAX_KEYS {
            limiter.take(i.to_string(), start).unwrap();
        }
        // Every bucket is empty: a new client waits until a sweep can make room.
        assert!(limiter.take("new".into(), start).is_err());
        let later = start + Duration::from_secs(2);
        assert!(limiter.take("new".into(), later).is_ok());
        let table = limiter.table.lock().unwrap();
        assert_eq!(table.buckets.len(), 1, "the refilled buckets are gone");
    }
}
