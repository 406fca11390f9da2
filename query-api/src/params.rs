//! Request parsing that turns every malformed input into an [`ApiError`], never axum's
//! plain-text rejection, plus the range checks shared by the routes.

use crate::error::ApiError;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use orderflow_platform::http::read_json;
use serde::de::DeserializeOwned;

/// The query string as `T`: 400 problem+json naming the parameter when it does not parse.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            // serde_urlencoded's message names the parameter ("limit: invalid digit …").
            Err(rejection) => Err(ApiError::BadQuery(format!(
                "The query string is invalid: {}",
                strip_prefix(&rejection.body_text())
            ))),
        }
    }
}

fn strip_prefix(text: &str) -> &str {
    text.strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text)
}

/// A JSON body as `T` (`orderflow_platform::http::read_json`): 415, 413, 400 or 422
/// problem+json when it is not one.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state)
            .await
            .map(JsonBody)
            .map_err(ApiError::Body)
    }
}

/// The id of a path that names a `what` by UUID (a subscription); 404 for anything that
/// is not one, which names nothing.
pub fn uuid(
    what: &'static str,
    path: Result<Path<String>, PathRejection>,
) -> Result<uuid::Uuid, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    uuid::Uuid::parse_str(&text).map_err(|_| ApiError::NoSuch(what, text))
}

/// A customer id given as `param`: 1 to 64 characters, no control characters; 422 else.
pub fn customer_id(param: &'static str, id: String) -> Result<String, ApiError> {
    if (1..=64).contains(&id.chars().count()) && !id.chars().any(char::is_control) {
        Ok(id)
    } else {
        Err(ApiError::invalid(
            param,
            "must be 1 to 64 characters, none a control character",
        ))
    }
}

/// The order id of the path. An id that could never have been placed names no order, so
/// it is a 404 without asking any store.
pub fn order_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    orderflow_domain::validate_order_id(&id).map_err(|_| ApiError::NotFound(id.clone()))?;
    Ok(id)
}

/// `value`, or `default` when absent; 422 for `param` outside `1..=max`.
pub fn bounded(
    param: &'static str,
    value: Option<u64>,
    default: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v) => Ok(v),
        Some(_) => Err(ApiError::invalid(
            param,
            format!("must be between 1 and {max}"),
        )),
    }
}

/// An order version (`min_version`, `after_version`); 422 beyond `i64::MAX`, which the
/// read model's versions (`BIGINT`) and the document's `int64` stop at.
pub fn version(param: &'static str, value: Option<u64>) -> Result<Option<u64>, ApiError> {
    match value {
        Some(v) if v > i64::MAX as u64 => Err(ApiError::invalid(
            param,
            format!("must be at most {}", i64::MAX),
        )),
        v => Ok(v),
    }
}

/// `status` as a lifecycle status; 422 for anything else.
pub fn status(value: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    value
        .map(|s| {
            orderflow_domain::Status::parse(s)
                .map(|status| status.as_str())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "status",
                        "must be one of placed, packed, shipped, delivered, cancelled",
                    )
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_values_default_and_reject_out_of_range() {
        assert_eq!(bounded("limit", None, 50, 200).unwrap(), 50);
        assert_eq!(bounded("limit", Some(200), 50, 200).unwrap(), 200);
        assert!(matches!(
            bounded("limit", Some(201), 50, 200),
            Err(ApiError::InvalidParam { param: "limit", .. })
        ));
        assert!(bounded("limit", Some(0), 50, 200).is_err());
    }

    #[test]
    fn statuses_are_the_lifecycle_names() {
        assert_eq!(status(Some("shipped")).unwrap(), Some("shipped"));
        assert_eq!(status(None).unwrap(), None);
        assert!(status(Some("lost")).is_err());
        assert!(status(Some("SHIPPED")).is_err());
    }
}
