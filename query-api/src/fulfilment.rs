//! Fulfilment's read model (ADR 0016), for operators: each product's stock level
//! (`/stock`) and the sagas whose next step is overdue (`/fulfilment/sagas`). The
//! fulfilment service writes both into the schema `fulfilment`; where it never ran, there
//! is no such schema, and the answers are empty rather than errors.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, Params};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chrono::Utc;
use orderflow_auth::Caller;
use orderflow_fulfilment_model::{SagaRow, StockLevel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 500;
/// A step next for longer than this is stuck, unless the query says otherwise.
const DEFAULT_STUCK_AFTER_SECONDS: u64 = 120;

/// The query of `GET /stock`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    /// Only products after this id: the last `product_id` of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._:-]{1,64}$")]
    after: Option<String>,
    /// Products per page (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
}

/// A page of stock levels, in product id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockPage {
    pub products: Vec<StockLevel>,
}

/// The query of `GET /fulfilment/sagas`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SagaQuery {
    /// Only sagas whose next step has been next for longer than this (default 120; 0: every
    /// saga with a step to do).
    #[param(minimum = 0, maximum = 86400)]
    stuck_after_seconds: Option<u64>,
    /// Sagas per page, oldest step first (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
}

/// Sagas with a step to do, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaPage {
    pub sagas: Vec<SagaRow>,
}

/// `GET /stock/{product_id}`.
#[utoipa::path(get, path = "/stock/{product_id}", operation_id = "getStock", tag = "fulfilment",
    summary = "A product's stock: on hand, reserved, available (operators)",
    params(("product_id" = String, Path, description = "The product's id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stock level.", body = StockLevel),
        (status = 403, description = "Not an operator.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock was ever recorded for it.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn stock(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<StockLevel>, ApiError> {
    operators(&caller)?;
    let Path(product) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    let level =
        absent_as_empty(orderflow_fulfilment_model::stock_level(app.store.pool(), &product).await)?;
    level
        .map(Json)
        .ok_or_else(|| ApiError::NoSuch("product stock", product))
}

/// `GET /stock`.
#[utoipa::path(get, path = "/stock", operation_id = "listStock", tag = "fulfilment",
    summary = "Every product's stock, by product id (operators)",
    params(StockQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of stock levels.", body = StockPage),
        (status = 400, description = "A parameter does not parse.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_stock(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<StockQuery>,
) -> Result<Json<StockPage>, ApiError> {
    operators(&caller)?;
    let limit = params::bounded("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    if let Some(after) = &query.after
        && orderflow_domain::validate_order_id(after).is_err()
    {
        return Err(ApiError::invalid(
            "after",
            "must be a product id: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
        ));
    }
    let page = orderflow_fulfilment_model::list_stock(
        app.store.pool(),
        query.after.as_deref(),
        limit as i64,
    )
    .await;
    let products = absent_as_empty(page.map(Some))?.unwrap_or_default();
    Ok(Json(StockPage { products }))
}

/// `GET /fulfilment/sagas`.
#[utoipa::path(get, path = "/fulfilment/sagas", operation_id = "listSagas", tag = "fulfilment",
    summary = "Sagas whose next step is overdue: stuck (operators)",
    description = "Each with the order's and the payment's status, the step that is next, \
        since when, how many attempts of it failed and what the last one said.",
    params(SagaQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sagas, oldest step first.", body = SagaPage),
        (status = 400, description = "A parameter does not parse.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter out of range.", body = orderflow_platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sagas(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<SagaQuery>,
) -> Result<Json<SagaPage>, ApiError> {
    operators(&caller)?;
    let limit = params::bounded("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query
        .stuck_after_seconds
        .unwrap_or(DEFAULT_STUCK_AFTER_SECONDS);
    if after > 86_400 {
        return Err(ApiError::invalid(
            "stuck_after_seconds",
            "must be at most 86400",
        ));
    }
    let before = Utc::now() - chrono::TimeDelta::seconds(after as i64);
    let rows =
        orderflow_fulfilment_model::list_sagas(app.store.pool(), Some(before), limit as i64).await;
    let sagas = absent_as_empty(rows.map(Some))?.unwrap_or_default();
    Ok(Json(SagaPage { sagas }))
}

fn operators(caller: &orderflow_auth::Principal) -> Result<(), ApiError> {
    access::operators_only(caller)
        .map_err(|_| ApiError::Forbidden("Stock and sagas are for operators."))
}

/// `None` where the fulfilment service never ran (no schema `fulfilment`).
fn absent_as_empty<T>(result: Result<Option<T>, sqlx::Error>) -> Result<Option<T>, ApiError> {
    match result {
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P01" | "3F000")) => {
            Ok(None)
        }
        other => Ok(other?),
    }
}
