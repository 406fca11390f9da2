//! The transitions, one documented handler each around [`super::transition`]. Only
//! operators pack, ship, track and deliver; the order's customer may cancel too. Their
//! error answers are the same for all five, so `openapi` adds them from one list
//! (`TRANSITION_ERRORS`) instead of each annotation repeating them.

use super::dto::*;
use super::openapi::*;
use super::{ApiError, transition};
use crate::app::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use orderflow_auth::Caller;

type OrderPath = Result<Path<String>, PathRejection>;

/// `POST /orders/{id}/pack`.
#[utoipa::path(post, path = "/orders/{id}/pack", tag = "orders", operation_id = "pack_order",
    summary = "Pack a placed order (operators)",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = PackBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Packed", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version, e.g. `\"2\"`"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn pack(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<PackBody>(state, caller, path, request).await
}

/// `POST /orders/{id}/ship`.
#[utoipa::path(post, path = "/orders/{id}/ship", tag = "orders", operation_id = "ship_order",
    summary = "Ship a packed order (operators)",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = ShipBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shipped", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version, e.g. `\"3\"`"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn ship(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<ShipBody>(state, caller, path, request).await
}

/// `POST /orders/{id}/location`.
#[utoipa::path(post, path = "/orders/{id}/location", tag = "orders", operation_id = "update_location",
    summary = "Record where a shipped order is (operators); 409 past the per-order cap",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = LocationBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Location recorded", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn location(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<LocationBody>(state, caller, path, request).await
}

/// `POST /orders/{id}/deliver`.
#[utoipa::path(post, path = "/orders/{id}/deliver", tag = "orders", operation_id = "deliver_order",
    summary = "Deliver a shipped order (operators); the body may be empty",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = DeliverBody, content_type = "application/json",
        description = "`{}`, or no body and no `Content-Type`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Delivered", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn deliver(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<DeliverBody>(state, caller, path, request).await
}

/// `POST /orders/{id}/cancel`.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order",
    summary = "Cancel a placed or packed order (its customer or operators)",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = CancelBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn cancel(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<CancelBody>(state, caller, path, request).await
}
