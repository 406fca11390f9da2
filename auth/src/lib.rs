//! JWT bearer authentication of the orderflow APIs (issue 15).
//!
//! Every request carries `Authorization: Bearer <JWT>`. The token is verified against a JWKS
//! (a file, or an http(s) URL refreshed in the background): signature, issuer, audience,
//! `exp`/`nbf` with a small leeway. Only asymmetric algorithms are accepted (RS256, ES256,
//! EdDSA): `none` and HMAC never, so a public key can never be abused as a shared secret.
//! The `roles` claim (an array of strings) makes the [`Principal`]: `customer` (whose `sub`
//! is the customer id), `operator` (warehouse and carrier staff) and `admin`.
//!
//! - [`AuthSettings`]: the `--auth*` / `ORDERFLOW_AUTH*` settings each API flattens in;
//! - [`Authenticator`]: holds the keys and verifies tokens; [`authenticate`] is the axum
//!   middleware, [`Caller`] the extractor of handlers;
//! - [`Rejection`]: 401 (with RFC 6750's `WWW-Authenticate`) or 503 problem+json;
//!   [`forbidden`]: the 403 of a valid token that may not do what it asks;
//! - [`dev`]: the development issuer behind the `orderflow-token` binary.
//!
//! Authentication is off only when asked for explicitly (`ORDERFLOW_AUTH=disabled`): then
//! every request is [`Principal::anonymous`], which has every role.

mod authenticator;
mod cache;
pub mod dev;
mod keys;
mod principal;
mod rejection;
mod settings;
mod verify;

pub use authenticator::{Authenticator, authenticate};
pub use principal::{Caller, Principal, Role, forbidden, principal_key, scoped_key};
pub use rejection::{InvalidToken, Rejection};
pub use settings::{AuthMode, AuthSettings, DEV_AUDIENCE, DEV_ISSUER, DEV_JWKS};

use std::path::PathBuf;

/// Why authentication could not start, or the development issuer could not be set up:
/// configuration errors that fail start-up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the JWKS file {path}")]
    ReadJwks {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the JWKS from {origin} is not valid JSON of a key set")]
    InvalidJwks {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the JWKS from {origin} has no usable key (RS256, ES256 or EdDSA)")]
    NoUsableKeys { origin: String },
    #[error("cannot fetch the JWKS from {origin}")]
    FetchJwks {
        origin: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the authenticator must be started inside a tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    #[error("cannot write or read the development issuer's file {path}")]
    DevIssuerFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the development signing key is not a P-256 PKCS#8 key")]
    DevIssuerKey(#[source] jsonwebtoken::errors::Error),
    #[error("cannot generate a signing key")]
    KeyGeneration(#[source] aws_lc_rs::error::Unspecified),
}
