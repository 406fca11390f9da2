//! `/notices`: what the notifier sent (ADR 0014): each status change of a customer's
//! orders (a *notice*, under its event's id), with its deliveries and every attempt; and
//! the retry by hand of a delivery parked on the dead-letter topic.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, Params};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orderflow_auth::Caller;
use orderflow_outbox::{NoticePage, RetryError};
use orderflow_platform::Problem;
use serde::Deserialize;
use utoipa::IntoParams;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 200;

/// The query of `GET /notices`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Only this customer's notices. A customer may name only itself (and sees only its own
    /// without it); an operator may name anyone.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    customer_id: Option<String>,
    /// Notices per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// Only notices older than this: the `next_before` of the previous page.
    #[param(minimum = 1)]
    before: Option<u64>,
}

/// `GET /notices`.
#[utoipa::path(
    get,
    path = "/notices",
    operation_id = "listNotices",
    tag = "notifications",
    summary = "What was sent, newest first",
    description = "Each status change of the customer's orders that someone subscribed to \
        (its `id` is the event's, the id every receiver got), with one delivery per \
        subscription and every attempt of it. A customer sees its own notices and their \
        email deliveries; operators anyone's, and every delivery.",
    params(NoticeQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of notices.", body = NoticePage,
         links(("next" = (operation_id = "listNotices",
                parameters(("before" = "$response.body#/next_before")),
                description = "The next (older) page, while `next_before` is present.")),
               ("retry_first" = (operation_id = "retryDelivery",
                parameters(("id" = "$response.body#/notices/0/id"),
                           ("subscription_id" = "$response.body#/notices/0/deliveries/0/subscription_id")),
                description = "Retry the newest notice's first delivery, if it is parked.")))),
        (status = 400, description = "A parameter does not parse.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A customer asked for another customer's.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`limit`, `before` or `customer_id` out of range.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<NoticeQuery>,
) -> Result<Json<NoticePage>, ApiError> {
    let limit = params::bounded("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let before = match params::version("before", query.before)? {
        Some(0) => return Err(ApiError::invalid("before", "must be at least 1")),
        before => before,
    };
    let requested = query
        .customer_id
        .map(|id| params::customer_id("customer_id", id))
        .transpose()?;
    let customer = access::list_filter(&caller, requested)?;
    // A customer sees what went to its own email; operators every delivery.
    let channel = crate::subscriptions::own_channel(&caller);
    let page = orderflow_outbox::list_notices(
        app.store.pool(),
        customer.as_deref(),
        channel,
        before.map(|b| b as i64),
        limit as i64,
    )
    .await?;
    Ok(Json(page))
}

/// `POST /notices/{id}/deliveries/{subscription_id}/retry`.
#[utoipa::path(
    post,
    path = "/notices/{id}/deliveries/{subscription_id}/retry",
    operation_id = "retryDelivery",
    tag = "notifications",
    summary = "Retry a parked delivery (operators)",
    description = "A delivery whose every attempt failed is parked (and on the dead-letter \
        topic). This makes it due now with a fresh budget of attempts.",
    params(
        ("id" = String, Path, format = "uuid", description = "The notice's id (its event's)."),
        ("subscription_id" = String, Path, format = "uuid", description = "The subscription."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Due now; the notifier sends it shortly."),
        (status = 403, description = "Not an operator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is not parked.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn retry(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    if !caller.is_operator() {
        return Err(ApiError::Forbidden("Only operators retry deliveries."));
    }
    let Path((notice, subscription)) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    let delivery = format!("{notice}/{subscription}");
    let not_found = || ApiError::NoSuch("delivery", delivery.clone());
    let (Ok(notice), Ok(subscription)) = (
        uuid::Uuid::parse_str(&notice),
        uuid::Uuid::parse_str(&subscription),
    ) else {
        return Err(not_found());
    };
    match orderflow_outbox::retry_parked(app.store.pool(), notice, subscription).await {
        Ok(()) => Ok(StatusCode::ACCEPTED),
        Err(RetryError::NotFound) => Err(not_found()),
        Err(RetryError::NotParked(state)) => Err(ApiError::NotParked(state)),
        Err(RetryError::Database(e)) => Err(e.into()),
    }
}
