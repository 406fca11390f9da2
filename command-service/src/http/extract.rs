//! Request parsing that turns every malformed input into an [`ApiError`], never a panic or
//! a plain-text rejection.

use super::error::ApiError;
use crate::aggregates::Precondition;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use orderflow_platform::http::read_json;
use serde::de::DeserializeOwned;

/// A JSON body: 415 unless `application/json`, 413 over the limit, 400 when not JSON, 422
/// when a field is missing or has the wrong type (`orderflow_platform::http::read_json`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state)
            .await
            .map(JsonBody)
            .map_err(ApiError::from)
    }
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    orderflow_platform::http::idempotency_key(headers).map_err(bad_header)
}

/// `X-Correlation-Id`: 1 to 128 visible ASCII characters.
pub fn correlation_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    orderflow_platform::http::text_header(headers, "x-correlation-id", 128).map_err(bad_header)
}

fn bad_header(e: orderflow_platform::http::BadHeader) -> ApiError {
    ApiError::BadHeader(e.to_string())
}

/// `If-Match`: `*` or a list of strong ETags holding versions (`"3"`, or bare: `3`).
pub fn precondition(headers: &HeaderMap) -> Result<Option<Precondition>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::BadHeader("If-Match must be * or a list of versions as ETags, e.g. \"3\"".into())
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(Some(Precondition::Exists));
    }
    let versions = text
        .split(',')
        .map(|tag| {
            let tag = tag.trim();
            // Weak tags never match under If-Match's strong comparison (RFC 9110 §13.1.1).
            if tag.starts_with("W/") {
                return Ok(None);
            }
            // A bare version is read as its tag: clients drop the quotes, and a number
            // means the same either way.
            let inner = match tag.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"').ok_or_else(bad)?,
                None => tag,
            };
            if inner.is_empty() || inner.len() > 19 || !inner.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            inner.parse::<u64>().map(Some).map_err(|_| bad())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Precondition::Versions(
        versions.into_iter().flatten().collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_match_accepts_star_and_version_tags_quoted_or_bare() {
        assert_eq!(
            precondition(&headers("if-match", "*")).unwrap(),
            Some(Precondition::Exists)
        );
        assert_eq!(
            precondition(&headers("if-match", "\"3\", \"4\"")).unwrap(),
            Some(Precondition::Versions(vec![3, 4]))
        );
        assert_eq!(
            precondition(&headers("if-match", "W/\"3\"")).unwrap(),
            Some(Precondition::Versions(vec![]))
        );
        assert_eq!(
            precondition(&headers("if-match", "3, \"5\"")).unwrap(),
            Some(Precondition::Versions(vec![3, 5]))
        );
        for bad in [
            "",
            "\"3",
            "+3",
            "\"-1\"",
            "\"abc\"",
            "3 4",
            "12345678901234567890",
        ] {
            assert!(precondition(&headers("if-match", bad)).is_err(), "{bad:?}");
        }
        assert_eq!(precondition(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn idempotency_keys_must_be_short_visible_text() {
        assert_eq!(
            idempotency_key(&headers("idempotency-key", "k-1")).unwrap(),
            Some("k-1".into())
        );
        assert!(idempotency_key(&headers("idempotency-key", &"k".repeat(256))).is_err());
        assert!(idempotency_key(&headers("idempotency-key", " ")).is_err());
    }
}
