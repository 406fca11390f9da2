//! `GET /orders/{id}` (cache first, optionally waiting for a version) and
//! `GET /orders/{id}/history`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, Params};
use crate::store::OrderDoc;
use crate::wait;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Default of `wait_ms` when `min_version` is given.
const DEFAULT_WAIT_MS: u64 = 2_000;
/// Longest a request may wait for a version.
const MAX_WAIT_MS: u64 = 10_000;

/// The query of `GET /orders/{id}`.
#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    /// Answer only once the read model holds this version or a later one.
    min_version: Option<u64>,
    /// How long to wait for `min_version`, in ms.
    wait_ms: Option<u64>,
}

/// Where an answer came from, for `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Cache,
    Database,
}

/// `GET /orders/{id}`.
pub async fn get_order(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    Params(query): Params<OrderQuery>,
) -> Result<Response, ApiError> {
    let id = params::order_id(path)?;
    let min_version = query.min_version;
    let wait = match (min_version, query.wait_ms) {
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "wait_ms",
                "only applies together with `min_version`",
            ));
        }
        (_, Some(ms)) if ms > MAX_WAIT_MS => {
            return Err(ApiError::invalid(
                "wait_ms",
                format!("must be at most {MAX_WAIT_MS}"),
            ));
        }
        (_, wait_ms) => Duration::from_millis(wait_ms.unwrap_or(DEFAULT_WAIT_MS)),
    };

    if let Some(doc) = app.cache.get(&id).await
        && doc.version >= min_version.unwrap_or(0)
    {
        return Ok(respond(doc, Source::Cache));
    }
    let doc = match min_version {
        None => app
            .store
            .order(&id)
            .await?
            .ok_or_else(|| ApiError::NotFound(id.clone()))?,
        Some(min) => wait::until_version(&app.store, &app.waiters, &id, min, wait).await?,
    };
    app.cache.fill(&id, &doc).await;
    Ok(respond(doc, Source::Database))
}

fn respond(doc: OrderDoc, source: Source) -> Response {
    let cache = match source {
        Source::Cache => "hit",
        Source::Database => "miss",
    };
    let mut response = Json(doc.json).into_response();
    let headers = response.headers_mut();
    headers.insert("x-cache", HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", doc.version)) {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// `GET /orders/{id}/history`: every accepted event of the order, in version order.
pub async fn history(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = params::order_id(path)?;
    let events = app
        .store
        .history(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.clone()))?;
    Ok(Json(json!({"order_id": id, "events": events})).into_response())
}
