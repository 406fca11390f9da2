//! The crate's single error type and its mapping to Confluent error bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::reply;

/// Everything that can go wrong in the registry, from start-up to a single request.
///
/// Client-facing variants carry the Confluent `error_code` and HTTP status documented on
/// each variant, so Confluent clients (which branch on `error_code`) behave as they would
/// against the real registry. Infrastructure variants are logged and answered with a
/// generic 50001 body so internals (SQL, connection strings) never reach clients.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 / 40401: the subject has no (visible) versions.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),

    /// 404 / 40402: the subject exists but not at this version.
    #[error("Version {0} not found.")]
    VersionNotFound(i32),

    /// 404 / 40403: no schema with this id, or the schema is not registered under the subject.
    #[error("{}", match .0 { Some(id) => format!("Schema {id} not found"), None => "Schema not found".to_owned() })]
    SchemaNotFound(Option<i32>),

    /// 404 / 40404: soft-deleting a subject whose versions are all soft-deleted already.
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),

    /// 404 / 40405: `permanent=true` on a subject that still has live versions.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),

    /// 404 / 40406: soft-deleting a version that is soft-deleted already.
    #[error(
        "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
    )]
    VersionSoftDeleted { subject: String, version: i32 },

    /// 404 / 40407: `permanent=true` on a version that was not soft-deleted first.
    #[error(
        "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
    )]
    VersionNotSoftDeleted { subject: String, version: i32 },

    /// 404 / 40408: `GET /config/{subject}` without `defaultToGlobal` and no subject-level setting.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),

    /// 409 / 409: registration rejected by the subject's compatibility level; `details`
    /// says which earlier version could not be read and why.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: {}", .details.join("; "))]
    Incompatible {
        subject: String,
        details: Vec<String>,
    },

    /// 422 / 42201: unparsable Avro, an unsupported `schemaType`, or unsupported features
    /// such as schema references.
    #[error("{0}")]
    InvalidSchema(String),

    /// 422 / 42202: a version path segment that is neither `latest` nor in `[1, 2^31-1]`.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),

    /// 422 / 42203: an unknown compatibility level in a config update.
    #[error(
        "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
    )]
    InvalidCompatibilityLevel,

    /// 422 / 422: the request body or query string could not be decoded.
    #[error("Unprocessable entity: {0}")]
    MalformedRequest(String),

    /// 404 / 404: no route matches the path.
    #[error("HTTP 404 Not Found")]
    RouteNotFound,

    /// 405 / 405: the path exists but not for this method.
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,

    /// 500 / 50001: a database failure. Logged in full, reported generically.
    #[error("database error")]
    Store(#[from] sqlx::Error),

    /// 500 / 50001: the start-up migrations could not be applied. Only returned by [`crate::run`].
    #[error("failed to apply registry migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// 500 / 50001: a stored row violates an invariant (e.g. a stored schema no longer
    /// parses). Logged in full, reported generically.
    #[error("registry data is inconsistent: {0}")]
    Internal(String),

    /// The listener failed while serving. Only returned by [`crate::run`].
    #[error("server I/O error")]
    Io(#[from] std::io::Error),
}

/// Confluent's error body: `{"error_code": 40401, "message": "..."}`.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error_code: u32,
    message: String,
}

impl Error {
    /// The HTTP status and Confluent `error_code` for this error.
    pub fn codes(&self) -> (StatusCode, u32) {
        match self {
            Error::SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            Error::VersionNotFound(_) => (StatusCode::NOT_FOUND, 40402),
            Error::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            Error::SubjectSoftDeleted(_) => (StatusCode::NOT_FOUND, 40404),
            Error::SubjectNotSoftDeleted(_) => (StatusCode::NOT_FOUND, 40405),
            Error::VersionSoftDeleted { .. } => (StatusCode::NOT_FOUND, 40406),
            Error::VersionNotSoftDeleted { .. } => (StatusCode::NOT_FOUND, 40407),
            Error::SubjectCompatibilityNotConfigured(_) => (StatusCode::NOT_FOUND, 40408),
            Error::Incompatible { .. } => (StatusCode::CONFLICT, 409),
            Error::InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            Error::InvalidVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            Error::InvalidCompatibilityLevel => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            Error::MalformedRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, 422),
            Error::RouteNotFound => (StatusCode::NOT_FOUND, 404),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, 405),
            Error::Store(_) | Error::Migrate(_) | Error::Internal(_) | Error::Io(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, 50001)
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, error_code) = self.codes();
        let message = if status.is_server_error() {
            // `{:?}` keeps the sqlx/migrate source chain in the log only.
            tracing::error!(error = ?self, "request failed on the registry's side");
            "Error in the backend data store".to_owned()
        } else {
            self.to_string()
        };
        reply(
            status,
            &ErrorBody {
                error_code,
                message,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_hide_their_details() {
        let err = Error::Store(sqlx::Error::Protocol("password=secret".into()));
        let (status, code) = err.codes();
        assert_eq!((status, code), (StatusCode::INTERNAL_SERVER_ERROR, 50001));
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn messages_match_confluent_wording() {
        assert_eq!(
            Error::SubjectNotFound("orders-value".into()).to_string(),
            "Subject 'orders-value' not found."
        );
        assert_eq!(
            Error::SchemaNotFound(Some(7)).to_string(),
            "Schema 7 not found"
        );
        assert_eq!(Error::SchemaNotFound(None).to_string(), "Schema not found");
        assert_eq!(
            Error::VersionNotFound(3).to_string(),
            "Version 3 not found."
        );
    }
}
