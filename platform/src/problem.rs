//! RFC 9457 problem details. Every service maps its errors to a [`Problem`], so clients see
//! one error shape everywhere and internals never leak.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `items[0].quantity`.
    #[schema(example = "items[0].quantity")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be between 1 and 10000, got 0")]
    pub message: String,
}

/// An `application/problem+json` response body (RFC 9457). The OpenAPI schema is named
/// `Problem` in every service's document, so clients share one error type.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(description = "RFC 9457 problem details: the shape of every error response.")]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/order-not-found`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/invalid-fields")]
    pub type_uri: String,
    /// The HTTP reason phrase of the status.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status code, repeated.
    #[schema(minimum = 400, maximum = 599, example = 422)]
    pub status: u16,
    /// What happened and what the client can do about it.
    pub detail: String,
    /// The invalid fields of the request, on 422; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
    /// Extra members (RFC 9457 §3.2), flattened into the body: e.g. `current_version` on
    /// 412, `current_status` on 409. The schema admits them as additional properties.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    pub retry_after_secs: Option<u32>,
}

impl Problem {
    /// A problem of `status`; `kind` names it in the `type` URI (`/problems/<kind>`).
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: format!("/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            retry_after_secs: None,
        }
    }

    /// Adds the invalid fields.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Sets `Retry-After` (seconds) on the response.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn a_problem_renders_as_problem_json_with_retry_after() {
        let response = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "broker down",
        )
        .retry_after(2)
        .into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn field_errors_and_extensions_are_members_of_the_body() {
        let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "bad")
            .with_errors(vec![FieldError {
                field: "items".into(),
                message: "must not be empty".into(),
            }])
            .with("current_version", 3);
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "/problems/invalid");
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"][0]["field"], "items");
        assert_eq!(json["current_version"], 3);
        assert!(json.get("retry_after_secs").is_none());
    }

    #[test]
    fn the_schema_requires_the_rfc_members_and_admits_extensions() {
        let schema = serde_json::to_value(Problem::schema()).unwrap();
        let required = schema["required"].as_array().unwrap();
        for member in ["type", "title", "status", "detail"] {
            assert!(required.iter().any(|r| r == member), "{member} required");
        }
        assert!(!required.iter().any(|r| r == "errors"));
        assert!(schema["properties"].get("retry_after_secs").is_none());
        // Extension members may hold any JSON value.
        let extensions = schema["additionalProperties"].as_object().unwrap();
        assert!(!extensions.contains_key("type"));
    }
}
