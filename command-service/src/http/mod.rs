//! The REST API: routes, handlers and response shapes.

mod dto;
mod error;
mod extract;
#[cfg(test)]
mod tests;

pub use error::ApiError;

use crate::aggregates::{Ack, CommandRequest};
use crate::app::AppState;
use crate::error::CommandError;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dto::*;
use extract::JsonBody;
use orderflow_domain::{Command, validate_order_id};
use orderflow_platform::Problem;
use uuid::Uuid;

/// Largest accepted request body.
const BODY_LIMIT: usize = 64 * 1024;

/// Namespace of order ids derived from an `Idempotency-Key` when the client sends none, so
/// a retried `POST /orders` lands on the same order (and partition) as the original.
const ORDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_6465_7266_6c6f_7700_0000_0000_0001);

/// The service's routes.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(inspect))
        .route("/orders/{id}/pack", post(transition::<PackBody>))
        .route("/orders/{id}/ship", post(transition::<ShipBody>))
        .route("/orders/{id}/location", post(transition::<LocationBody>))
        .route("/orders/{id}/deliver", post(transition::<DeliverBody>))
        .route("/orders/{id}/cancel", post(transition::<CancelBody>))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "alive"})) }),
        )
        .route("/readyz", get(ready))
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn place(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderBody>,
) -> Result<Response, ApiError> {
    let (order_id, command) = body.into_command().map_err(ApiError::InvalidFields)?;
    submit(&app, request(&headers, order_id, command)?).await
}

/// A transition: the body names the command, the path names the order.
async fn transition<B: TransitionBody>(
    State(app): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<B>,
) -> Result<Response, ApiError> {
    let id = order_id_in(path)?;
    let command = body.into_command().map_err(ApiError::InvalidFields)?;
    submit(&app, request(&headers, Some(id), command)?).await
}

/// The order id of the path; an id that could never have been placed names no order.
fn order_id_in(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    validate_order_id(&id).map_err(|_| CommandError::NotFound(id.clone()))?;
    Ok(id)
}

/// The command with what its headers say. Without an order id, one is derived from the
/// `Idempotency-Key` (so retries find the same order) or made up.
fn request(
    headers: &HeaderMap,
    order_id: Option<String>,
    command: Command,
) -> Result<CommandRequest, ApiError> {
    let idempotency_key = extract::idempotency_key(headers)?;
    let order_id = order_id.unwrap_or_else(|| match &idempotency_key {
        Some(k) => Uuid::new_v5(&ORDER_ID_NAMESPACE, k.as_bytes()).to_string(),
        None => Uuid::new_v4().to_string(),
    });
    Ok(CommandRequest {
        order_id,
        command,
        precondition: extract::precondition(headers)?,
        idempotency_key,
        correlation_id: extract::correlation_id(headers)?,
    })
}

async fn submit(app: &AppState, request: CommandRequest) -> Result<Response, ApiError> {
    let ack = app.submit(request).await?;
    Ok(ack_response(&ack))
}

fn ack_response(ack: &Ack) -> Response {
    let status = if ack.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(CommandResponse::from(ack))).into_response();
    let h = response.headers_mut();
    h.insert(header::ETAG, etag(ack.version));
    if ack.created
        && let Ok(location) = HeaderValue::from_str(&format!("/orders/{}", ack.order_id))
    {
        h.insert(header::LOCATION, location);
    }
    if ack.replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// `GET /orders/{id}`: the write side's view (status and version), for `If-Match`.
async fn inspect(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id_in(path)?;
    let order = app.inspect(&id).await?;
    let status = order
        .status
        .ok_or_else(|| CommandError::NotFound(id.clone()))?;
    let body =
        serde_json::json!({"order_id": id, "status": status.as_str(), "version": order.version});
    Ok(([(header::ETAG, etag(order.version))], Json(body)).into_response())
}

async fn ready(State(app): State<AppState>) -> Response {
    let readiness = app.readiness();
    let (replayed, total) = readiness.progress();
    let (failure, stalled) = (readiness.failure(), readiness.stall_reason());
    let up = readiness.is_replayed() && readiness.is_broker_up();
    if failure.is_none() && stalled.is_none() && up {
        return Json(serde_json::json!({"status": "ready", "partitions": total})).into_response();
    }
    let detail = if let Some(failure) = failure {
        format!(
            "The event log cannot be read: {failure}. Restart the service once the log is fixed."
        )
    } else if let Some(stalled) = stalled {
        format!(
            "Reading the event log stopped at a record: {stalled}. \
             It goes on by itself once the registry knows the schema."
        )
    } else if readiness.is_replayed() {
        "The broker is unreachable.".to_owned()
    } else {
        format!("Replaying the event log: {replayed} of {total} partitions done.")
    };
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", detail)
        .with("partitions_replayed", replayed)
        .with("partitions", total)
        .with("broker_reachable", readiness.is_broker_up())
        .retry_after(1)
        .into_response()
}
