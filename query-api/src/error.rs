//! `ApiError`: every failure of a request, mapped to one problem+json response.
//!
//! Bad input is always a 4xx naming what was wrong; a dependency outage is a 503 with
//! `Retry-After`; internals (SQL, driver messages) only reach the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orderflow_outbox::CreateError;
use orderflow_platform::{FieldError, Problem};

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 1;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The query string cannot be parsed (a number that is not one). Handling: 400.
    #[error("{0}")]
    BadQuery(String),
    /// A parameter parsed but is out of range or not an allowed value. Handling: 422.
    #[error("parameter `{param}` {message}")]
    InvalidParam {
        param: &'static str,
        message: String,
    },
    /// The pagination cursor was not produced by this API. Handling: 400.
    #[error("the cursor is not valid; pass `next_cursor` from a previous page unchanged")]
    BadCursor,
    /// `max_streams` streams are open. Handling: 503 with `Retry-After`.
    #[error("too many streams are open")]
    TooManyStreams,
    /// A history row of the read model does not read back as an event (a fault of the
    /// read model, not of the request). Handling: 500, logged.
    #[error(transparent)]
    UnreadableHistory(#[from] orderflow_read_model::UnreadableHistory),
    /// The path cannot be read (e.g. invalid percent-encoding). Handling: 400.
    #[error("{0}")]
    BadPath(String),
    /// The request body is not what the route reads. Handling: 415, 413, 400 or 422, as
    /// the variant says.
    #[error("{0}")]
    Body(#[from] orderflow_platform::http::BodyError),
    /// No such record (`what`: a subscription, a delivery), or not the caller's.
    /// Handling: 404.
    #[error("no such {0}: {1}")]
    NoSuch(&'static str, String),
    /// A retry by hand of a delivery that is not parked. Handling: 409 naming its state.
    #[error("the delivery is {}, not parked", .0.as_str())]
    NotParked(orderflow_outbox::DeliveryState),
    /// A subscription could not be created. Handling: 409 for a duplicate (naming it) or a
    /// customer at its limit; a database failure as [`ApiError::Database`].
    #[error(transparent)]
    Subscription(#[from] orderflow_outbox::CreateError),
    /// No such order in the read model. Handling: 404.
    #[error("order {0} not found")]
    NotFound(String),
    /// `min_version` was not reached within `wait_ms`. Handling: 409 with the version held
    /// and `Retry-After` (the read model is behind the write the client made: a state of
    /// the resource, not a failure of the server, so not a 5xx).
    #[error("order {order_id} did not reach version {min_version} in time")]
    VersionNotReached {
        order_id: String,
        min_version: u64,
        current_version: Option<u64>,
        /// The customer of the order held, for the access check (not in the body).
        owner: Option<String>,
    },
    /// The route exists but not for this method. Handling: 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The caller's token is valid but its roles do not allow this. Handling: 403.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A Postgres failure. Handling: 503 when Postgres is unreachable, else 500; logged.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// A 422 for `param`.
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParam {
            param,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem(self).into_response()
    }
}

fn problem(error: ApiError) -> Problem {
    use StatusCode as S;
    let detail = error.to_string();
    match error {
        ApiError::BadQuery(detail) => Problem::new(S::BAD_REQUEST, "bad-query", detail),
        ApiError::InvalidParam { param, message } => Problem::new(
            S::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            format!("Parameter `{param}` {message}."),
        )
        .with_errors(vec![FieldError {
            field: param.to_owned(),
            message,
        }]),
        ApiError::BadCursor => Problem::new(S::BAD_REQUEST, "bad-cursor", detail),
        ApiError::BadPath(detail) => Problem::new(S::BAD_REQUEST, "bad-path", detail),
        ApiError::TooManyStreams => Problem::new(
            S::SERVICE_UNAVAILABLE,
            "too-many-streams",
            "As many streams are open as this service allows; retry shortly.",
        )
        .retry_after(RETRY_AFTER_SECS),
        ApiError::UnreadableHistory(e) => {
            tracing::error!(error = %e, "the read model's history does not read back");
            Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "The order's history could not be read; it has been logged.",
            )
        }
        ApiError::NotFound(_) => Problem::new(S::NOT_FOUND, "order-not-found", detail),
        ApiError::NoSuch(what, _) => {
            Problem::new(S::NOT_FOUND, &format!("{what}-not-found"), detail)
        }
        ApiError::NotParked(state) => {
            Problem::new(S::CONFLICT, "not-parked", detail).with("state", state.as_str())
        }
        ApiError::Subscription(CreateError::Duplicate(id)) => {
            Problem::new(S::CONFLICT, "already-subscribed", detail)
                .with("subscription", id.to_string())
        }
        ApiError::Subscription(CreateError::Limit) => {
            Problem::new(S::CONFLICT, "subscription-limit", detail)
        }
        ApiError::Subscription(CreateError::Database(e)) => problem(ApiError::Database(e)),
        ApiError::Body(e) => e.problem(),
        ApiError::VersionNotReached {
            current_version,
            min_version,
            ..
        } => Problem::new(S::CONFLICT, "version-not-reached", detail)
            .with("min_version", min_version)
            .with("current_version", current_version)
            .retry_after(RETRY_AFTER_SECS),
        ApiError::MethodNotAllowed => Problem::new(
            S::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "This resource does not support that method.",
        ),
        ApiError::Forbidden(detail) => orderflow_auth::forbidden(detail),
        ApiError::Database(e) if is_outage(&e) => {
            tracing::warn!(error = %e, "Postgres unavailable; answering 503");
            Problem::new(
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "The read model is unavailable; retry shortly.",
            )
            .retry_after(RETRY_AFTER_SECS)
        }
        ApiError::Database(e) => {
            tracing::error!(error = %e, "query failed");
            Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "The query failed; it has been logged.",
            )
        }
    }
}

/// Whether `e` means Postgres cannot be reached or cannot serve right now (as opposed to a
/// query this service got wrong): those are 503s a retry may fix.
pub(crate) fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions (08), insufficient resources (53), operator intervention
        // (57: shutdown, cancel), and a read model not migrated yet (42P01: the projector
        // creates the tables when it first starts).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "42P01"
                || code == "3D000"
        }),
        _ => false,
    }
}
