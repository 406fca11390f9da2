//! The HTTP server every service runs: [`serve`] and its limits.
//!
//! Layer order, outermost first, so that each limit sheds a request before the next one
//! spends anything on it:
//!
//! 1. hyper's connection: the header timeout ([`HttpSettings::header_timeout_ms`]), which
//!    also closes idle keep-alive connections, and the write timeout
//!    ([`HttpSettings::write_timeout_ms`], `write_deadline`) for clients that stop reading;
//! 2. [`Guard`], added by [`serve`]: the concurrency limit (fast 503 with `Retry-After`;
//!    `/healthz`, `/readyz` and `/metrics` have a small limit of their own), the body
//!    timeout (408) and the request deadline (503 with `Retry-After`);
//! 3. the router's own layers: the HTTP metrics ([`crate::HttpMetricsLayer`]),
//!    authentication, then [`RateLimitLayer`] keyed by the
//!    principal authentication found (429 with `Retry-After`), body limits, then the
//!    handlers.
//!
//! A service builds its `Router` with its layers and hands it to [`serve`]: `serve` owns
//! only what must be outside everything else.

mod headers;
mod json_body;
mod limits;
mod rate_limit;
mod serve;
mod settings;
mod write_deadline;

pub use headers::{BadHeader, idempotency_key, text_header};
pub use json_body::{BodyError, invalid_fields, json_integer, read_json};
pub use limits::{BodyTimeout, Guard};
pub use rate_limit::{KeyFn, MAX_KEYS, RateLimit, RateLimitFuture, RateLimitLayer};
pub use serve::serve;
pub use settings::HttpSettings;
