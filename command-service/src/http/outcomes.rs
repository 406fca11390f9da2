//! Fulfilment's outcomes for a pending order: `POST /orders/{id}/confirm` and
//! `POST /orders/{id}/reject`. Only the fulfilment process manager (role `fulfilment`)
//! calls them, after it reserved the stock and authorized the payment, or failed to and
//! undid what it had done. They are ordinary commands otherwise: decided against the
//! order rebuilt from the log, appended, acknowledged after the read-back.

use super::dto::{CommandResponse, TransitionBody};
use super::openapi::*;
use super::{ApiError, transition};
use crate::app::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use orderflow_auth::Caller;
use orderflow_domain::{Command, CommandKind};
use orderflow_platform::FieldError;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /orders/{id}/confirm`: no fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {}

/// `POST /orders/{id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why, in words for the customer.
    #[schema(min_length = 1, max_length = 500, example = "sku-1 is out of stock")]
    pub reason: String,
}

impl TransitionBody for ConfirmBody {
    const KIND: CommandKind = CommandKind::Confirm;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::Confirm)
    }
}

impl TransitionBody for RejectBody {
    const KIND: CommandKind = CommandKind::Reject;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::Reject {
            reason: self.reason,
        })
    }
}

type OrderPath = Result<Path<String>, PathRejection>;

/// `POST /orders/{id}/confirm`.
#[utoipa::path(post, path = "/orders/{id}/confirm", tag = "fulfilment", operation_id = "confirm_order",
    summary = "Confirm a pending order: stock reserved, payment authorized (fulfilment only)",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = ConfirmBody, content_type = "application/json",
        description = "`{}`, or no body and no `Content-Type`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Confirmed", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn confirm(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<ConfirmBody>(state, caller, path, request).await
}

/// `POST /orders/{id}/reject`.
#[utoipa::path(post, path = "/orders/{id}/reject", tag = "fulfilment", operation_id = "reject_order",
    summary = "Reject a pending order, after undoing its reservations and authorization (fulfilment only)",
    params(OrderId, IfMatch, CommandHeaders),
    request_body(content = RejectBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rejected", body = CommandResponse,
            headers(("ETag" = String, description = "The order's new version"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
    ))]
pub(super) async fn reject(
    state: State<AppState>,
    caller: Caller,
    path: OrderPath,
    request: Request,
) -> Result<Response, ApiError> {
    transition::<RejectBody>(state, caller, path, request).await
}
