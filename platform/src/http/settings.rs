//! [`HttpSettings`]: the limits every service's HTTP server enforces, flattened into each
//! binary's settings.

use std::time::Duration;

/// How long clients may take and how many requests are served at once. Defaults suit the
/// local stack; every one is a flag and an `ORDERFLOW_HTTP_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpSettings {
    /// Longest time a client may take to send a request's headers, in milliseconds. It also
    /// bounds an idle keep-alive connection: hyper starts this timer as soon as it waits for
    /// the next request on a connection, so a connection that sends nothing is closed too.
    #[arg(
        long = "http-header-timeout-ms",
        env = "ORDERFLOW_HTTP_HEADER_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_timeout_ms: u64,
    /// Longest time a client may take to send a request's whole body, in milliseconds; a
    /// client that stalls gets 408 and the connection is closed.
    #[arg(
        long = "http-body-timeout-ms",
        env = "ORDERFLOW_HTTP_BODY_TIMEOUT_MS",
        default_value_t = 15_000
    )]
    pub body_timeout_ms: u64,
    /// Longest time a write to a client may wait for it to read, in milliseconds; past it
    /// the connection is closed (a client that stopped reading a stream, or reads a large
    /// answer too slowly to matter).
    #[arg(
        long = "http-write-timeout-ms",
        env = "ORDERFLOW_HTTP_WRITE_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub write_timeout_ms: u64,
    /// Longest time a request may take from its headers to its response, in milliseconds;
    /// past it the request answers 503 with `Retry-After`. Must exceed the longest wait a
    /// handler makes on purpose (the command timeout, the query API's `wait_ms`, 10 s each).
    #[arg(
        long = "http-request-timeout-ms",
        env = "ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub request_timeout_ms: u64,
    /// Most requests served at once; more are shed at once with 503 and `Retry-After`
    /// rather than queued. `/healthz`, `/readyz` and `/metrics` have a small limit of their own.
    #[arg(
        long = "http-max-concurrent-requests",
        env = "ORDERFLOW_HTTP_MAX_CONCURRENT_REQUESTS",
        default_value_t = 2048,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_concurrent_requests: u32,
    /// Requests per second each client (principal) may make on average; 0 turns the limit
    /// off. Past it, requests answer 429 with `Retry-After`.
    #[arg(
        long = "rate-limit-per-second",
        env = "ORDERFLOW_HTTP_RATE_LIMIT_PER_SECOND",
        default_value_t = 0
    )]
    pub rate_limit_per_second: u32,
    /// Requests a client may make in a burst above its rate.
    #[arg(
        long = "rate-limit-burst",
        env = "ORDERFLOW_HTTP_RATE_LIMIT_BURST",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rate_limit_burst: u32,
}

impl Default for HttpSettings {
    /// The same values as the flags' defaults.
    fn default() -> Self {
        HttpSettings {
            header_timeout_ms: 10_000,
            body_timeout_ms: 15_000,
            write_timeout_ms: 30_000,
            request_timeout_ms: 30_000,
            max_concurrent_requests: 2048,
            rate_limit_per_second: 0,
            rate_limit_burst: 50,
        }
    }
}

impl HttpSettings {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        http: HttpSettings,
    }

    #[test]
    fn the_flag_defaults_are_the_default_settings_and_cut_slow_clients_off_within_30_s() {
        let parsed = Cli::parse_from(["test"]).http;
        let default = HttpSettings::default();
        assert_eq!(parsed.header_timeout_ms, default.header_timeout_ms);
        assert_eq!(parsed.body_timeout_ms, default.body_timeout_ms);
        assert_eq!(parsed.write_timeout_ms, default.write_timeout_ms);
        assert_eq!(parsed.request_timeout_ms, default.request_timeout_ms);
        assert_eq!(
            parsed.max_concurrent_requests,
            default.max_concurrent_requests
        );
        assert_eq!(
            parsed.rate_limit_per_second, 0,
            "rate limiting is off by default"
        );
        assert_eq!(parsed.rate_limit_burst, default.rate_limit_burst);
        assert!(default.header_timeout() <= Duration::from_secs(30));
        assert!(default.body_timeout() <= Duration::from_secs(30));
        // Longer than the command timeout and the query API's longest wait (10 s each).
        assert!(default.request_timeout() > Duration::from_secs(10));
    }
}
