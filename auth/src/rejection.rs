//! Why a request was not authenticated, and the responses that say so: 401 with RFC 6750's
//! `WWW-Authenticate` challenge, or 503 while the signing keys have not loaded yet.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderflow_platform::Problem;

/// What is wrong with a presented token. The messages are the `detail` of the 401 and its
/// `error_description`, so they never quote the token or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the bearer token is meant for another audience")]
    WrongAudience,
    #[error("the bearer token was issued by an issuer this service does not trust")]
    WrongIssuer,
    #[error("the bearer token's signature does not verify")]
    BadSignature,
    #[error("the bearer token names a signing key id this service does not know")]
    UnknownKeyId,
    #[error("the bearer token's algorithm is not allowed (only RS256, ES256 and EdDSA)")]
    AlgorithmNotAllowed,
    #[error("the bearer token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the bearer token has no roles")]
    NoRoles,
}

/// Why a request gets no principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `Authorization` header (or no principal where one was expected).
    #[error("the request has no bearer token (Authorization: Bearer <JWT>)")]
    Missing,
    /// An `Authorization` header of another scheme (Basic, ...).
    #[error("the Authorization header does not carry a Bearer token")]
    NotBearer,
    #[error(transparent)]
    Invalid(#[from] InvalidToken),
    /// The JWKS URL has not answered yet since start-up.
    #[error("the signing keys have not loaded yet; retry shortly")]
    KeysNotLoaded,
}

const REALM: &str = r#"Bearer realm="orderflow""#;

impl Rejection {
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): the error only when a
    /// token was presented, as the RFC asks.
    fn challenge(&self) -> Option<HeaderValue> {
        match self {
            Rejection::Missing | Rejection::NotBearer => Some(HeaderValue::from_static(REALM)),
            Rejection::Invalid(invalid) => {
                // The messages are ours and plain ASCII, but quotes would end the
                // quoted-string, so none may pass.
                let description = invalid.to_string().replace(['"', '\\'], "'");
                let value =
                    format!(r#"{REALM}, error="invalid_token", error_description="{description}""#);
                HeaderValue::from_str(&value).ok()
            }
            Rejection::KeysNotLoaded => None,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let problem = match self {
            Rejection::KeysNotLoaded => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                self.to_string(),
            )
            .retry_after(1),
            _ => Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", self.to_string()),
        };
        let mut response = problem.into_response();
        if let Some(challenge) = self.challenge() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_platform::PROBLEM_JSON;

    #[test]
    fn a_missing_token_is_challenged_without_an_error() {
        let response = Rejection::Missing.into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], REALM);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn an_invalid_token_is_challenged_with_invalid_token_and_why() {
        let response = Rejection::Invalid(InvalidToken::Expired).into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="orderflow", error="invalid_token", error_description="the bearer token has expired""#
        );
    }

    #[test]
    fn every_reason_makes_a_valid_header() {
        let reasons = [
            InvalidToken::Malformed,
            InvalidToken::NotYetValid,
            InvalidToken::WrongAudience,
            InvalidToken::WrongIssuer,
            InvalidToken::BadSignature,
            InvalidToken::UnknownKeyId,
            InvalidToken::AlgorithmNotAllowed,
            InvalidToken::MissingClaim("sub"),
            InvalidToken::NoRoles,
        ];
        for reason in reasons {
            let response = Rejection::Invalid(reason).into_response();
            assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        }
    }

    #[test]
    fn keys_not_loaded_is_a_503_to_retry() {
        let response = Rejection::KeysNotLoaded.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
