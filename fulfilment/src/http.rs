//! The fulfilment service's HTTP API: operators receive and adjust stock (the stock log's
//! commands, acknowledged after the read-back), and the probes and `/metrics`. Stock
//! levels are read from the query API (`GET /stock`), which serves the read model.

use crate::health::Health;
use crate::ledger::{Ledger, LedgerError};
use crate::projection::stock_level;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use orderflow_auth::{Authenticator, Caller, Principal};
use orderflow_domain::inventory::{Stock, StockCommand, StockError};
use orderflow_domain::payment::Payment;
use orderflow_fulfilment_model::StockLevel;
use orderflow_platform::http::{BodyError, invalid_fields, read_json};
use orderflow_platform::{FieldError, Problem};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Clone)]
pub struct AppState {
    pub inventory: Ledger<Stock>,
    pub payments: Ledger<Payment>,
    pub health: Arc<Health>,
    pub pool: PgPool,
    pub authenticator: Authenticator,
}

/// `POST /stock/{product_id}/receipts`: units that arrived.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    #[schema(minimum = 1, maximum = 1_000_000, example = 24)]
    #[serde(deserialize_with = "orderflow_platform::http::json_integer")]
    quantity: i64,
}

/// `POST /stock/{product_id}/adjustments`: a count that found more or fewer units.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// Units found (positive) or missing (negative), never 0; the stock never goes below
    /// what is reserved.
    #[schema(minimum = -1_000_000, maximum = 1_000_000, example = -2)]
    #[serde(deserialize_with = "orderflow_platform::http::json_integer")]
    delta: i64,
    /// Why; not only spaces.
    #[schema(min_length = 1, max_length = 500, example = "damaged in the warehouse")]
    reason: String,
}

/// The answers every stock operation shares besides its 200.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a documentation type: the handlers answer through `ApiError`
enum StockProblems {
    /// The body or a header cannot be read.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(#[to_schema] Problem),
    /// No bearer token, or one that is invalid or expired.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(#[to_schema] Problem),
    /// Not an operator.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(#[to_schema] Problem),
    /// The stock refuses it (an adjustment below what is reserved), or the
    /// `Idempotency-Key` was used for another change of this product.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(#[to_schema] Problem),
    /// A field, or the product id, breaks the rules; each listed in `errors`.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(#[to_schema] Problem),
    /// The stock log did not take it in time; retry with the same `Idempotency-Key`.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(#[to_schema] Problem),
}

/// The path of a stock operation.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // a documentation type
struct StockPath {
    /// The product: 1 to 64 characters of `A-Z a-z 0-9 . _ : -`.
    #[param(pattern = r"^[A-Za-z0-9._:-]{1,64}$", example = "sku-1")]
    product_id: String,
}

/// The header of a stock operation.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // a documentation type
struct StockHeaders {
    /// Makes the change safe to retry: a retry with the same key (from the same caller)
    /// appends nothing and answers `Idempotent-Replayed: true`. 1 to 255 visible ASCII
    /// characters (spaces inside).
    #[param(
        required = false,
        rename = "Idempotency-Key",
        pattern = r"^[!-~]([ -~]{0,253}[!-~])?$",
        example = "receipt-2026-11-28-1"
    )]
    idempotency_key: String,
}

/// Why a request got no stock: each becomes one problem answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller may not change stock. Handling: 403.
    #[error("only operators receive and adjust stock")]
    Forbidden,
    /// The path is not one of ours. Handling: 400.
    #[error("{0}")]
    BadPath(String),
    /// `Idempotency-Key` is not 1 to 255 visible characters. Handling: 400.
    #[error(transparent)]
    BadHeader(#[from] orderflow_platform::http::BadHeader),
    /// The body cannot be read. Handling: 413, 415 or 400, as the platform says.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The stock refused the command. Handling: 422 with the fields, or 409.
    #[error(transparent)]
    Refused(StockError),
    /// The `Idempotency-Key` was used for another change of this product. Handling: 409.
    #[error("the idempotency key was used for another request")]
    KeyReused,
    /// The stock log did not take it in time. Handling: 503 with Retry-After.
    #[error("{0}")]
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Forbidden => {
                orderflow_auth::forbidden("Only operators receive and adjust stock.")
            }
            ApiError::BadPath(text) => Problem::new(StatusCode::BAD_REQUEST, "bad-path", text),
            ApiError::BadHeader(e) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-header", format!("{e}."))
            }
            ApiError::Body(e) => e.problem(),
            ApiError::Refused(StockError::Invalid(violations)) => invalid_fields(
                violations
                    .into_iter()
                    .map(|v| FieldError {
                        field: v.field,
                        message: v.message,
                    })
                    .collect(),
            ),
            ApiError::KeyReused => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "This Idempotency-Key was used for another change of this product.",
            ),
            ApiError::Refused(other) => {
                Problem::new(StatusCode::CONFLICT, "stock-conflict", format!("{other}."))
            }
            ApiError::Unavailable(why) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "{why}. Retry with the same Idempotency-Key; without one, check the stock \
                     first: the change may have been made."
                ),
            )
            .retry_after(1),
        }
        .into_response()
    }
}

/// The routes. Stock commands need an operator's token; the probes and `/metrics` are
/// open.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/stock/{product_id}/receipts", post(receive))
        .route("/stock/{product_id}/adjustments", post(adjust))
        .route_layer(middleware::from_fn_with_state(
            state.authenticator.clone(),
            orderflow_auth::authenticate,
        ));
    Router::new()
        .merge(authenticated)
        .route(
            "/healthz",
            get(|| async { Json(json!({"status": "alive"})) }),
        )
        .route("/readyz", get(ready))
        .merge(orderflow_platform::docs_page::routes(
            &crate::openapi::openapi(),
            "orderflow fulfilment API",
        ))
        .merge(orderflow_platform::metrics::routes())
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .layer(orderflow_platform::HttpMetricsLayer::new())
        .with_state(state)
}

/// `POST /stock/{product_id}/receipts`.
#[utoipa::path(post, path = "/stock/{product_id}/receipts", tag = "stock", operation_id = "receive_stock",
    summary = "Receive units of a product (operators)",
    params(StockPath, StockHeaders),
    request_body(content = ReceiptBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, description = "The stock after the receipt", body = StockLevel), StockProblems))]
pub(crate) async fn receive(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    let product = product_in(path)?;
    let key = once_key(&caller, request.headers())?;
    let body: ReceiptBody = read_json(request, &()).await?;
    // Out of u32 is out of the stock's range too, which it reports as such.
    let command = StockCommand::Receive {
        quantity: u32::try_from(body.quantity).unwrap_or(0),
    };
    submit(&app, &product, command, key).await
}

/// `POST /stock/{product_id}/adjustments`.
#[utoipa::path(post, path = "/stock/{product_id}/adjustments", tag = "stock", operation_id = "adjust_stock",
    summary = "Correct the units on hand after a count (operators)",
    params(StockPath, StockHeaders),
    request_body(content = AdjustmentBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, description = "The stock after the adjustment", body = StockLevel), StockProblems))]
pub(crate) async fn adjust(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    let product = product_in(path)?;
    let key = once_key(&caller, request.headers())?;
    let body: AdjustmentBody = read_json(request, &()).await?;
    let command = StockCommand::Adjust {
        delta: body.delta,
        reason: body.reason,
    };
    submit(&app, &product, command, key).await
}

fn operator(caller: &Principal) -> Result<(), ApiError> {
    if caller.is_operator() {
        return Ok(());
    }
    Err(ApiError::Forbidden)
}

fn product_in(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(product) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    Ok(product)
}

/// The request's `Idempotency-Key`, scoped to the caller as the log keeps it.
fn once_key(caller: &Principal, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let key = orderflow_platform::http::idempotency_key(headers)?;
    Ok(key.map(|key| orderflow_auth::scoped_key(&caller.subject, &key)))
}

/// Appends `command`, answered with the stock after it. A retry under an idempotency key
/// the log already holds appends nothing and says so (`Idempotent-Replayed: true`).
async fn submit(
    app: &AppState,
    product: &str,
    command: StockCommand,
    key: Option<String>,
) -> Result<Response, ApiError> {
    match app.inventory.submit_once(product, command, key).await {
        Ok(answered) => {
            let level = Json(stock_level(&answered.state));
            let replayed = if answered.replayed { "true" } else { "false" };
            Ok(([("idempotent-replayed", replayed)], level).into_response())
        }
        Err(LedgerError::Refused(e)) => Err(ApiError::Refused(e)),
        Err(LedgerError::KeyReused) => Err(ApiError::KeyReused),
        Err(e @ LedgerError::Unavailable(..)) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// Ready once both ledgers and the order log were read to their ends and Postgres takes
/// the read model's writes.
async fn ready(State(app): State<AppState>) -> Response {
    let database =
        sqlx::query("SELECT 1").execute(&app.pool).await.is_ok() && app.health.database_up();
    let (inventory, payments) = (app.inventory.is_ready(), app.payments.is_ready());
    let sagas = app.health.sagas_live();
    let (broker, registry) = (app.health.broker_up(), app.health.registry_up());
    if database && inventory && payments && sagas && broker && registry {
        return Json(json!({"status": "ready"})).into_response();
    }
    let state = |b: bool, no: &str| if b { "up".to_owned() } else { no.to_owned() };
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "The fulfilment service is reading its logs, or a dependency is unreachable.",
    )
    .with("postgres", state(database, "down"))
    .with("inventory", state(inventory, "reading"))
    .with("payments", state(payments, "reading"))
    .with("sagas", state(sagas, "reading"))
    .with("kafka", state(broker, "down"))
    .with("registry", state(registry, "down"))
    .retry_after(1)
    .into_response()
}
