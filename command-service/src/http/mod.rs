//! The REST API: routes, handlers and response shapes.

mod dto;
mod error;
mod extract;

pub use error::ApiError;

use crate::aggregates::{Ack, CommandRequest};
use crate::app::AppState;
use crate::error::CommandError;
use axum::Json;
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
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn place(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderBody>,
) -> Result<Response, ApiError> {
    let (order_id, command) = body.into_command().map_err(ApiError::InvalidFields)?;
    let key = extract::idempotency_key(&headers)?;
    let order_id = order_id.unwrap_or_else(|| match &key {
        Some(k) => Uuid::new_v5(&ORDER_ID_NAMESPACE, k.as_bytes()).to_string(),
        None => Uuid::new_v4().to_string(),
    });
    submit(&app, &headers, order_id, command).await
}

/// A transition: the body names the command, the path names the order.
async fn transition<B: TransitionBody>(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<B>,
) -> Result<Response, ApiError> {
    // An id that could never have been placed names no order.
    validate_order_id(&id).map_err(|_| CommandError::NotFound(id.clone()))?;
    submit(&app, &headers, id, body.into_command()).await
}

async fn submit(
    app: &AppState,
    headers: &HeaderMap,
    order_id: String,
    command: Command,
) -> Result<Response, ApiError> {
    let request = CommandRequest {
        order_id,
        command,
        precondition: extract::precondition(headers)?,
        idempotency_key: extract::idempotency_key(headers)?,
        correlation_id: extract::correlation_id(headers)?,
    };
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
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    validate_order_id(&id).map_err(|_| CommandError::NotFound(id.clone()))?;
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
    let (rebuilt, total) = readiness.progress();
    if readiness.is_rebuilt() && readiness.is_broker_up() {
        return Json(serde_json::json!({"status": "ready", "partitions": total})).into_response();
    }
    let detail = if readiness.is_rebuilt() {
        "The broker is unreachable.".to_owned()
    } else {
        format!("Rebuilding state from the event log: {rebuilt} of {total} partitions done.")
    };
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", detail)
        .with("partitions_rebuilt", rebuilt)
        .with("partitions", total)
        .with("broker_reachable", readiness.is_broker_up())
        .retry_after(1)
        .into_response()
}
