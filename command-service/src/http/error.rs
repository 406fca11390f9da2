//! `ApiError`: every failure of a request, mapped to one problem+json response.

use crate::error::CommandError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orderflow_platform::http::{BodyError, invalid_fields};
use orderflow_platform::{FieldError, Problem};

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 1;

/// Everything a request can fail with. Internals never reach the client: the detail says
/// what the client can do, the log says the rest.
#[derive(Debug)]
pub enum ApiError {
    /// The worker refused or could not acknowledge the command.
    Command(CommandError),
    /// The body is not a JSON command: 415, 413 (over 64 KiB), 400 or 422, as the
    /// variant says.
    Body(BodyError),
    /// Fields fail the domain's checks. Handling: 422 naming them.
    InvalidFields(Vec<FieldError>),
    /// A header cannot be understood. Handling: 400.
    BadHeader(String),
    /// The path cannot be read (e.g. invalid percent-encoding). Handling: 400.
    BadPath(String),
    /// The route exists but not for this method. Handling: 405.
    MethodNotAllowed,
    /// The caller's token is valid but its roles do not allow this. Handling: 403.
    Forbidden(&'static str),
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        ApiError::Command(e)
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError::Body(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem(self).into_response()
    }
}

fn problem(error: ApiError) -> Problem {
    use StatusCode as S;
    match error {
        ApiError::Command(e) => command_problem(e),
        ApiError::Body(e) => e.problem(),
        ApiError::InvalidFields(errors) => invalid_fields(errors),
        ApiError::BadHeader(detail) => Problem::new(S::BAD_REQUEST, "bad-header", detail),
        ApiError::BadPath(detail) => Problem::new(S::BAD_REQUEST, "bad-path", detail),
        ApiError::MethodNotAllowed => Problem::new(
            S::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "This resource does not support that method.",
        ),
        ApiError::Forbidden(detail) => orderflow_auth::forbidden(detail),
    }
}

fn command_problem(error: CommandError) -> Problem {
    use StatusCode as S;
    let detail = error.to_string();
    match error {
        CommandError::Invalid(violations) => invalid_fields(
            violations
                .into_iter()
                .map(super::dto::field_error)
                .collect(),
        ),
        CommandError::NotFound(_) => Problem::new(S::NOT_FOUND, "order-not-found", detail),
        CommandError::TransitionNotAllowed { from, command, .. } => {
            Problem::new(S::CONFLICT, "transition-not-allowed", detail)
                .with("current_status", from.as_str())
                .with("command", command.verb())
        }
        CommandError::AlreadyExists(_) => Problem::new(S::CONFLICT, "order-exists", detail),
        CommandError::IdempotencyKeyReused => {
            Problem::new(S::CONFLICT, "idempotency-key-reused", detail)
        }
        CommandError::LocationLimit { limit, .. } => {
            Problem::new(S::CONFLICT, "location-limit", detail).with("limit", limit)
        }
        CommandError::VersionMismatch { current, .. } => {
            Problem::new(S::PRECONDITION_FAILED, "version-mismatch", detail)
                .with("current_version", current)
        }
        CommandError::ConcurrentWrite { .. } => {
            Problem::new(S::CONFLICT, "concurrent-write", detail)
        }
        CommandError::Replaying | CommandError::Unavailable(_) | CommandError::Overloaded => {
            if let CommandError::Unavailable(cause) = &error {
                tracing::warn!(%cause, "answering 503");
            }
            let public = match error {
                CommandError::Unavailable(_) => {
                    "The event log is unavailable; retry shortly (with the same Idempotency-Key)."
                        .to_owned()
                }
                _ => detail,
            };
            Problem::new(S::SERVICE_UNAVAILABLE, "unavailable", public)
                .retry_after(RETRY_AFTER_SECS)
        }
    }
}
