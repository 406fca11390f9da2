//! The Confluent REST surface: routing, request decoding and response encoding.
//!
//! Handlers live in `subjects` (subject/version CRUD and lookup), `schemas` (by global
//! id) and `config` (compatibility settings and checks). This module owns the pieces
//! they share: Confluent's content type, lenient extractors that turn every decoding
//! failure into a Confluent error body, and the query flags clients send.

mod config;
mod schemas;
mod subjects;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::State};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::store::Store;

/// The media type Confluent's registry answers with (and its clients ask for).
pub const SCHEMA_REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Shared state for every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
}

impl AppState {
    /// Builds the state over an already-migrated [`Store`].
    pub fn new(store: Store) -> Self {
        AppState { store }
    }
}

/// The registry's routes, without binding a socket, so tests can drive it with
/// `tower::ServiceExt::oneshot`. Expects the store's migrations to have run.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .merge(subjects::routes())
        .merge(schemas::routes())
        .merge(config::routes())
        .fallback(|| async { Error::RouteNotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Confluent answers `GET /` with an empty object; some clients probe it.
async fn root() -> Reply<serde_json::Value> {
    Reply(serde_json::json!({}))
}

/// Readiness for scripts: 200 only when the database answers too.
async fn healthz(State(state): State<AppState>) -> Result<Reply<serde_json::Value>, Error> {
    state.store.ping().await?;
    Ok(Reply(serde_json::json!({ "status": "ok" })))
}

/// Serialises `body` with Confluent's content type.
pub(crate) fn reply<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => raw_reply(status, bytes),
        Err(e) => Error::Internal(format!("response did not serialise: {e}")).into_response(),
    }
}

/// Sends already-encoded JSON with Confluent's content type.
pub(crate) fn raw_reply(status: StatusCode, bytes: impl Into<axum::body::Body>) -> Response {
    let mut response = (status, bytes.into()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(SCHEMA_REGISTRY_CONTENT_TYPE),
    );
    response
}

/// A 200 response with a JSON body in Confluent's content type.
pub(crate) struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        reply(StatusCode::OK, &self.0)
    }
}

/// A JSON request body decoded regardless of `Content-Type`: Confluent clients send
/// `application/vnd.schemaregistry.v1+json`, curl users often send nothing or
/// form types, and the registry should not care.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::MalformedRequest(e.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Error::MalformedRequest(format!("malformed JSON body: {e}")))
    }
}

/// Path parameters whose decoding failures become Confluent error bodies.
pub(crate) struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|e| Error::MalformedRequest(e.body_text()))
    }
}

/// Query flags across the API. Every field is optional and unknown parameters (the
/// Python client sends `normalize`, `format`, `offset`, `limit`...) are ignored, so
/// decoding only fails on a malformed query string.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flags {
    deleted: Option<String>,
    permanent: Option<String>,
    verbose: Option<String>,
    default_to_global: Option<String>,
    subject_prefix: Option<String>,
}

impl Flags {
    /// Include soft-deleted subjects / versions.
    fn deleted(&self) -> bool {
        is_true(&self.deleted)
    }

    /// Hard delete instead of soft delete.
    fn permanent(&self) -> bool {
        is_true(&self.permanent)
    }

    /// Add `messages` to compatibility results.
    fn verbose(&self) -> bool {
        is_true(&self.verbose)
    }

    /// Fall back to the global level in `GET /config/{subject}`.
    fn default_to_global(&self) -> bool {
        is_true(&self.default_to_global)
    }

    /// Only list subjects starting with this.
    fn subject_prefix(&self) -> &str {
        self.subject_prefix.as_deref().unwrap_or("")
    }
}

/// Python's client formats booleans as `True`/`False`, Java's as `true`/`false`.
fn is_true(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

impl<S: Send + Sync> FromRequestParts<S> for Flags {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<Flags>::try_from_uri(&parts.uri)
            .map(|Query(flags)| flags)
            .map_err(|e| Error::MalformedRequest(e.body_text()))
    }
}
