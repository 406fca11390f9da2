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
use orderflow_auth::{Caller, Principal};
use orderflow_platform::Problem;
use orderflow_read_model::{HistoryEvent, OrderView};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// Default of `wait_ms` when `min_version` is given.
const DEFAULT_WAIT_MS: u64 = 2_000;
/// Longest a request may wait for a version.
const MAX_WAIT_MS: u64 = 10_000;
/// History page size when `limit` is absent.
const DEFAULT_HISTORY_LIMIT: u64 = 100;
/// Largest history page.
const MAX_HISTORY_LIMIT: u64 = 1_000;

/// The query of `GET /orders/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Answer only once the read model holds this version or a later one (read your own
    /// write: the `version` a command answered with); 409 if it does not in `wait_ms`.
    min_version: Option<u64>,
    /// How long to wait for `min_version`, in ms (default 2000); only with `min_version`.
    #[param(maximum = 10_000)]
    wait_ms: Option<u64>,
}

/// Where an answer came from, for `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Cache,
    Database,
}

/// The query of `GET /orders/{id}/history`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only events after this version (the `next_after_version` of the previous page).
    after_version: Option<u64>,
    /// Events per page (default 100).
    #[param(minimum = 1, maximum = 1_000)]
    limit: Option<u64>,
}

/// A page of an order's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    order_id: String,
    /// The accepted events, oldest first.
    events: Vec<HistoryEvent>,
    /// Pass as `after_version` for the next page; `null` on the last page.
    next_after_version: Option<u64>,
}

/// Whether `caller` may see order `id`, which must exist: its history and its stream ask
/// this (an order read asks after loading it). 404 for anyone else.
pub(crate) async fn visible(app: &AppState, caller: &Principal, id: &str) -> Result<(), ApiError> {
    let owner = app
        .store
        .owner(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.to_owned()))?;
    access::order_visible(caller, &owner, id)
}

/// The path parameter of both routes, as the router and the OpenAPI document name it.
pub(crate) const ID_DOC: &str = "The order id: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'. \
     Any other id, and an order of another customer, is 404.";

/// 409: `min_version` was not reached within `wait_ms`.
#[derive(Serialize, ToSchema)]
#[allow(
    dead_code,
    reason = "only a schema: the body is a `Problem` with these members"
)]
pub struct VersionNotReached {
    #[serde(flatten)]
    problem: Problem,
    /// The version waited for.
    min_version: u64,
    /// The version the read model holds; `null` if it holds no such order.
    current_version: Option<u64>,
}

/// `GET /orders/{id}`: for its customer or an operator.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    operation_id = "getOrder",
    tag = "orders",
    summary = "An order",
    description = "The order's document, from the cache when it holds it (`X-Cache: hit`). \
        With `min_version` the request waits, without polling, until the read model holds \
        that version (read your own write), at most `wait_ms`.",
    params(("id" = String, Path, description = ID_DOC, min_length = 1, max_length = 64,
            pattern = r"^[A-Za-z0-9._:-]{1,64}$"), OrderQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order.", body = OrderView,
         headers(("ETag" = String, description = "The document's version, quoted: `\"3\"`."),
                 ("X-Cache" = String, description = "`hit` when served from Redis, `miss` from Postgres.")),
         links(("history" = (operation_id = "getOrderHistory",
                parameters(("id" = "$request.path.id")),
                description = "The events that made this order.")))),
        (status = 400, description = "A query parameter or the path does not parse.", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not the caller's.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`wait_ms` out of range or without `min_version`.",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`min_version` was not reached within `wait_ms`: the \
            read model is behind; retry after `Retry-After` seconds.",
         body = VersionNotReached, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait before asking again."))),
    ),
)]
pub async fn get_order(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    Params(query): Params<OrderQuery>,
) -> Result<Response, ApiError> {
    let id = params::order_id(path)?;
    let min_version = params::version("min_version", query.min_version)?;
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
        Some(min) => {
            let waited = wait::until_version(&app.store, &app.waiters, &id, min, wait).await;
            // Not reached on another customer's order is a 404 like any other answer on it.
            if let Err(ApiError::VersionNotReached {
                owner: Some(owner), ..
            }) = &waited
            {
                access::order_visible(&caller, owner, &id)?;
            }
            waited?
        }
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
#[utoipa::path(
    get,
    path = "/orders/{id}/history",
    operation_id = "getOrderHistory",
    tag = "orders",
    summary = "An order's history",
    description = "The order's accepted events in version order, a page at a time.",
    params(("id" = String, Path, description = ID_DOC, min_length = 1, max_length = 64,
            pattern = r"^[A-Za-z0-9._:-]{1,64}$"), HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events.", body = HistoryPage,
         links(("next" = (operation_id = "getOrderHistory",
                parameters(("id" = "$request.path.id"),
                           ("after_version" = "$response.body#/next_after_version")),
                description = "The next page, while `next_after_version` is not null."))),
         ),
        (status = 400, description = "A query parameter or the path does not parse.", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not the caller's.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
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
    let after = params::version("after_version", query.after_version)?.unwrap_or(0);
    visible(&app, &caller, &id).await?;
    let mut events = app.store.history(&id, after, limit + 1).await?;
    let next_after_version = (events.len() as u64 > limit).then(|| {
        events.truncate(limit as usize);
        events.last().map_or(after, |e| e.version as u64)
    });
    let page = HistoryPage {
        order_id: id,
        events,
        next_after_version,
    };
    Ok(Json(page).into_response())
}
