//! `/subscriptions`: who the notifier tells about orders (ADR 0014). The rows are the
//! outbox's (`orderflow_outbox`), written here under the read side's rules:
//!
//! - a customer manages its own email subscriptions, and sees no others (not even the
//!   webhooks operators made for its orders);
//! - operators manage every subscription, and alone create webhooks (a webhook makes this
//!   system send requests to a URL of the creator's choosing: staff only);
//! - a subscription the caller may not manage does not exist for it (404).
//!
//! A webhook's secret is in the answer to its creation, and nowhere afterwards.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, JsonBody, Params};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderflow_auth::{Caller, Principal};
use orderflow_outbox::{Channel, NewSubscription, Subscription};
use orderflow_platform::Problem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Page size when `limit` is absent, and the largest.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

/// The body of `POST /subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum SubscriptionRequest {
    /// Email to a customer's address. A customer may leave `customer_id` out (itself).
    Email {
        #[schema(min_length = 1, max_length = 64)]
        customer_id: Option<String>,
        #[schema(min_length = 3, max_length = 254, format = Email)]
        address: String,
    },
    /// Signed POSTs to a URL (operators): one customer's orders, or every order when
    /// `customer_id` is left out.
    Webhook {
        #[schema(min_length = 1, max_length = 64)]
        customer_id: Option<String>,
        #[schema(max_length = 2048, format = "uri")]
        url: String,
    },
}

/// `POST /subscriptions`' answer: the subscription, and a webhook's secret (only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    #[serde(flatten)]
    subscription: Subscription,
    /// The webhook's signing secret (hex): keep it, it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// The body of `GET /subscriptions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    subscriptions: Vec<Subscription>,
}

/// The query of `GET /subscriptions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Only this customer's subscriptions (a customer may name only itself).
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    customer_id: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1_000)]
    limit: Option<u64>,
}

/// Checks what the caller asks for, and who it is for.
fn new_subscription(
    caller: &Principal,
    request: SubscriptionRequest,
) -> Result<NewSubscription, ApiError> {
    let (channel, customer_id, target) = match request {
        SubscriptionRequest::Email {
            customer_id,
            address,
        } => (Channel::Email, customer_id, address),
        SubscriptionRequest::Webhook { customer_id, url } => (Channel::Webhook, customer_id, url),
    };
    if channel == Channel::Webhook && !caller.is_operator() {
        return Err(ApiError::Forbidden("Only operators create webhooks."));
    }
    let customer_id = match customer_id {
        Some(id) => Some(params::customer_id("customer_id", id)?),
        None if caller.is_operator() => None,
        None => caller.customer_id().map(str::to_owned),
    };
    match &customer_id {
        Some(id) if !caller.may_act_for(id) => {
            return Err(ApiError::Forbidden(
                "A customer may subscribe only to its own orders.",
            ));
        }
        None if !caller.is_operator() => {
            return Err(ApiError::Forbidden(
                "Subscribing needs the customer or the operator role.",
            ));
        }
        _ => {}
    }
    let new = NewSubscription {
        channel,
        customer_id,
        target,
        created_by: caller.subject.clone(),
    };
    new.check().map_err(|e| {
        let field = match e {
            orderflow_outbox::SubscriptionError::Address => "address",
            orderflow_outbox::SubscriptionError::Url => "url",
            orderflow_outbox::SubscriptionError::EmailWithoutCustomer => "customer_id",
        };
        ApiError::invalid(field, e.to_string())
    })?;
    Ok(new)
}

/// `POST /subscriptions`.
#[utoipa::path(
    post,
    path = "/subscriptions",
    operation_id = "createSubscription",
    tag = "notifications",
    summary = "Subscribe to an order's status changes",
    description = "An email subscription (a customer for itself, operators for anyone) or a \
        webhook (operators; for one customer or every order). The notifier tells it about every \
        status change from then on. A webhook's answer holds its signing secret, once.",
    request_body = SubscriptionRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Subscribed.", body = Created,
         headers(("Location" = String, description = "The subscription's URL."),
                 ("Cache-Control" = String, description = "`no-store`: the answer may hold a secret.")),
         links(("get" = (operation_id = "getSubscription",
                parameters(("id" = "$response.body#/id")),
                description = "The subscription.")),
               ("delete" = (operation_id = "deleteSubscription",
                parameters(("id" = "$response.body#/id")),
                description = "Unsubscribe.")))),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A customer asked for another customer, or for a webhook.",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same channel and target exist for the same customer \
            (`subscription` names it), or the customer has as many subscriptions as allowed (20).",
         body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, of the wrong type, or not an address or URL.",
         body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(app): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<SubscriptionRequest>,
) -> Result<Response, ApiError> {
    let new = new_subscription(&caller, body)?;
    let (subscription, secret) = orderflow_outbox::create(app.store.pool(), &new).await?;
    let location = format!("/subscriptions/{}", subscription.id);
    let created = Created {
        subscription,
        secret,
    };
    // The answer may hold the webhook's secret: no cache keeps it.
    let headers = [
        (header::LOCATION, location),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((StatusCode::CREATED, headers, Json(created)).into_response())
}

/// `GET /subscriptions`.
#[utoipa::path(
    get,
    path = "/subscriptions",
    operation_id = "listSubscriptions",
    tag = "notifications",
    summary = "Subscriptions, oldest first",
    description = "A customer's own email subscriptions, or (operators) anyone's, webhooks \
        included; never with secrets.",
    params(SubscriptionQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscriptions.", body = SubscriptionList),
        (status = 400, description = "A parameter does not parse.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A customer asked for another customer's.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`limit` or `customer_id` out of range.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<SubscriptionQuery>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let limit = params::bounded("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let requested = query
        .customer_id
        .map(|id| params::customer_id("customer_id", id))
        .transpose()?;
    let customer = access::list_filter(&caller, requested)?;
    let channel = own_channel(&caller);
    let pool = app.store.pool();
    let subscriptions =
        orderflow_outbox::list(pool, customer.as_deref(), channel, limit as i64).await?;
    Ok(Json(SubscriptionList { subscriptions }))
}

/// The channel a caller manages only its own of: email, for a customer; `None` (every
/// channel) for staff.
pub(crate) fn own_channel(caller: &Principal) -> Option<Channel> {
    (!caller.is_operator()).then_some(Channel::Email)
}

/// The subscription `id` if `caller` may manage it: staff any, a customer its own email.
async fn visible(
    app: &AppState,
    caller: &Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Subscription, ApiError> {
    let id = params::uuid("subscription", path)?;
    let not_found = || ApiError::NoSuch("subscription", id.to_string());
    let subscription = orderflow_outbox::get(app.store.pool(), id)
        .await?
        .ok_or_else(not_found)?;
    let own = subscription.channel == Channel::Email
        && subscription.customer_id.as_deref() == caller.customer_id();
    if caller.is_operator() || own {
        Ok(subscription)
    } else {
        Err(not_found())
    }
}

/// `GET /subscriptions/{id}`.
#[utoipa::path(
    get,
    path = "/subscriptions/{id}",
    operation_id = "getSubscription",
    tag = "notifications",
    summary = "A subscription",
    params(("id" = String, Path, format = "uuid", description = "The subscription's id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription (without its secret).", body = Subscription),
        (status = 404, description = "No such subscription, or not the caller's.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn get(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Subscription>, ApiError> {
    visible(&app, &caller, path).await.map(Json)
}

/// `DELETE /subscriptions/{id}`.
#[utoipa::path(
    delete,
    path = "/subscriptions/{id}",
    operation_id = "deleteSubscription",
    tag = "notifications",
    summary = "Unsubscribe",
    description = "Nothing more is sent to it; deliveries not yet made are dropped, and every \
        record of what was sent stays.",
    params(("id" = String, Path, format = "uuid", description = "The subscription's id.")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such subscription, or not the caller's.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let subscription = visible(&app, &caller, path).await?;
    orderflow_outbox::delete(app.store.pool(), subscription.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_auth::Role;

    fn email(customer: Option<&str>) -> SubscriptionRequest {
        SubscriptionRequest::Email {
            customer_id: customer.map(str::to_owned),
            address: "ann@example.com".into(),
        }
    }

    fn webhook(customer: Option<&str>) -> SubscriptionRequest {
        SubscriptionRequest::Webhook {
            customer_id: customer.map(str::to_owned),
            url: "https://hooks.example.com/o".into(),
        }
    }

    #[test]
    fn who_may_subscribe_whom() {
        let customer = Principal::new("c-1", [Role::Customer]);
        let operator = Principal::new("ops-1", [Role::Operator]);
        let nobody = Principal::new("x", []);
        let table = [
            (&customer, email(None), Ok(Some("c-1"))),
            (&customer, email(Some("c-1")), Ok(Some("c-1"))),
            (&customer, email(Some("c-2")), Err(403)),
            (&customer, webhook(Some("c-1")), Err(403)),
            (&operator, email(Some("c-2")), Ok(Some("c-2"))),
            (&operator, email(None), Err(422)),
            (&operator, webhook(None), Ok(None)),
            (&operator, webhook(Some("c-9")), Ok(Some("c-9"))),
            (&nobody, email(None), Err(403)),
        ];
        for (caller, request, expected) in table {
            let shown = format!("{} {request:?}", caller.subject);
            let got = new_subscription(caller, request);
            match (got, expected) {
                (Ok(new), Ok(customer)) => {
                    assert_eq!(new.customer_id.as_deref(), customer, "{shown}")
                }
                (Err(ApiError::Forbidden(_)), Err(403)) => {}
                (Err(ApiError::InvalidParam { .. }), Err(422)) => {}
                (got, expected) => panic!("{shown}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
