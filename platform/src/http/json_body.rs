//! Reading a JSON request body into a type, with every way it can be wrong told apart, so
//! each service's extractor maps them to its problem+json answers (415, 413, 400, 422).

use crate::{FieldError, Problem};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Why a body was not read. Handling: a 4xx each, named by the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not `application/json` (or `application/*+json`). Handling: 415.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// Over the route's body limit. Handling: 413.
    #[error("the body is too large")]
    PayloadTooLarge,
    /// Not JSON at all, or cut short. Handling: 400 with the parser's message.
    #[error("{0}")]
    Malformed(String),
    /// JSON, but a field is missing or of the wrong type. Handling: 422 naming the field.
    #[error("a field is invalid")]
    InvalidFields(Vec<FieldError>),
}

impl BodyError {
    /// The problem+json answer, the same in every service.
    pub fn problem(self) -> Problem {
        match self {
            BodyError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send the body as application/json.",
            ),
            BodyError::PayloadTooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is larger than this route accepts.",
            ),
            BodyError::Malformed(detail) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("The body is not valid JSON: {detail}"),
            ),
            BodyError::InvalidFields(errors) => invalid_fields(errors),
        }
    }
}

/// The 422 of fields that are missing, of the wrong type, or out of range.
pub fn invalid_fields(errors: Vec<FieldError>) -> Problem {
    let detail = match errors.as_slice() {
        [one] => format!("Field `{}` {}.", one.field, one.message),
        many => format!("{} fields are invalid; see `errors`.", many.len()),
    };
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-fields", detail).with_errors(errors)
}

/// The body of `req` as `T`. An empty body without a content type reads as `{}`: a
/// command without fields (`POST .../deliver`).
pub async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<T, BodyError> {
    let content_type = req.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::PayloadTooLarge
        } else {
            BodyError::Malformed(rejection.body_text())
        }
    })?;
    match content_type {
        Some(ct) if is_json(ct.to_str().unwrap_or_default()) => {}
        None if bytes.iter().all(u8::is_ascii_whitespace) => return parse(b"{}"),
        _ => return Err(BodyError::UnsupportedMediaType),
    }
    parse(&bytes)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // A field error only counts when the whole body is JSON (`{} trailing` is a 400);
        // checked on the error path alone, so valid requests are parsed once.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return BodyError::Malformed(syntax.to_string());
        }
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        BodyError::InvalidFields(vec![FieldError {
            field,
            message: strip_position(&e.into_inner().to_string()),
        }])
    })?;
    de.end().map_err(|e| BodyError::Malformed(e.to_string()))?;
    Ok(value)
}

/// serde_json appends "at line 1 column 7"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A JSON integer, which JSON Schema says `2.0` is too (`"type": "integer"` is about the
/// value, not its spelling); a fraction or a number beyond `i64` is refused.
pub fn json_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Integer;
    impl serde::de::Visitor<'_> for Integer {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // 2^63 is exact in an f64; below it, an integral f64 converts exactly.
            if v.fract() == 0.0 && v >= -(2f64.powi(63)) && v < 2f64.powi(63) {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_any(Integer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Body {
        n: u32,
    }

    #[test]
    fn json_content_types_include_suffixes_and_parameters() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_and_trailing_text_is_malformed() {
        assert_eq!(parse::<Body>(br#"{"n": 1}"#), Ok(Body { n: 1 }));
        let Err(BodyError::InvalidFields(errors)) = parse::<Body>(br#"{"n": "x"}"#) else {
            panic!("not a field error");
        };
        assert_eq!(errors[0].field, "n");
        assert!(matches!(
            parse::<Body>(br#"{"n": 1} x"#),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{"n": "#),
            Err(BodyError::Malformed(_))
        ));
    }
}
