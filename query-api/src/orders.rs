//! `GET /orders/{id}` (cache first, optionally waiting for a version) and
//! `GET /orders/{id}/history`.

use crate::access;
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
use orderflow_auth::Caller;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Default of `wait_ms` when `min_version` is given.
const DEFAULT_WAIT_MS: u64 = 2_000;
/// Longest a request may wait for a version.
const MAX_WAIT_MS: u64 = 10_000;
/// History page size when `limit` is absent.
const DEFAULT_HISTORY_LIMIT: u64 = 100;
/// Largest history page.
const MAX_HISTORY_LIMIT: u64 = 1_000;

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

/// The query of `GET /orders/{id}/history`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// Only events after this version (the `next_after_version` of the previous page).
    after_version: Option<u64>,
    limit: Option<u64>,
}

/// `GET /orders/{id}`: for its customer or an operator.
pub async fn get_order(
    State(app): State<AppState>,
    Caller(caller): Caller,
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

    if let Some(doc) = app.cache.get(&id, min_version.unwrap_or(0)).await {
        access::order_visible(&caller, doc.customer_id(), &id)?;
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
    access::order_visible(&caller, doc.customer_id(), &id)?;
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

/// `GET /orders/{id}/history`: the order's accepted events in version order, a page at a
/// time, for its customer or an operator. `next_after_version` is where the next page
/// starts, `null` on the last.
pub async fn history(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    Params(query): Params<HistoryQuery>,
) -> Result<Response, ApiError> {
    let id = params::order_id(path)?;
    let limit = params::bounded(
        "limit",
        query.limit,
        DEFAULT_HISTORY_LIMIT,
        MAX_HISTORY_LIMIT,
    )?;
    let owner = app
        .store
        .owner(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.clone()))?;
    access::order_visible(&caller, &owner, &id)?;
    let after = query.after_version.unwrap_or(0);
    let mut events = app.store.history(&id, after, limit + 1).await?;
    let next_after_version = (events.len() as u64 > limit).then(|| {
        events.truncate(limit as usize);
        events.last().map_or(after, |e| e.version as u64)
    });
    let body = json!({"order_id": id, "events": events, "next_after_version": next_after_version});
    Ok(Json(body).into_response())
}
