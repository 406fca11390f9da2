//! The REST API: routes, handlers and response shapes.

mod dto;
mod error;
mod extract;
mod forward;
mod openapi;
mod outcomes;
#[cfg(test)]
mod tests;
mod transitions;

pub use error::ApiError;
pub use openapi::openapi;

use crate::aggregates::{Ack, CommandRequest};
use crate::app::AppState;
use crate::error::CommandError;
use crate::idempotency;
use crate::metrics;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dto::*;
use extract::JsonBody;
use openapi::*;
use orderflow_auth::{Caller, Principal, Role};
use orderflow_domain::{Command, CommandKind, validate_order_id, violations};
use orderflow_platform::Problem;
use orderflow_platform::telemetry::TraceLayer;
use uuid::Uuid;

/// Largest accepted request body.
const BODY_LIMIT: usize = 64 * 1024;

/// Namespace of order ids derived from an `Idempotency-Key` when the client sends none, so
/// a retried `POST /orders` lands on the same order (and partition) as the original.
const ORDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_6465_7266_6c6f_7700_0000_0000_0001);

/// The service's routes. Every route but the probes, `/metrics` and the documentation
/// needs a bearer token (the auth layer answers 401 before a handler runs); what each role
/// may do is checked in the handlers and, for who owns an order, by the order's worker.
/// `/metrics` is open like the probes: Prometheus scrapes without a token, and its series
/// name no order or customer. Each handler's `#[utoipa::path]` documents it in [`openapi`].
pub fn router(state: AppState) -> axum::Router {
    let authenticated = axum::Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(inspect))
        .route("/orders/{id}/pack", post(transitions::pack))
        .route("/orders/{id}/ship", post(transitions::ship))
        .route("/orders/{id}/location", post(transitions::location))
        .route("/orders/{id}/deliver", post(transitions::deliver))
        .route("/orders/{id}/cancel", post(transitions::cancel))
        .route("/orders/{id}/confirm", post(outcomes::confirm))
        .route("/orders/{id}/reject", post(outcomes::reject))
        // Layers run outside in: authentication first, then the principal's rate limit, then
        // forwarding to the instance that serves the order (ADR 0015).
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            forward::forward,
        ))
        .route_layer(state.rate_limit().clone())
        .route_layer(middleware::from_fn_with_state(
            state.authenticator().clone(),
            orderflow_auth::authenticate,
        ));
    axum::Router::new()
        .merge(authenticated)
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .merge(orderflow_platform::metrics::routes())
        // The contract and its page are open: a client needs them before it has a token.
        .merge(orderflow_platform::docs_page::routes(
            &openapi(),
            "orderflow command API",
        ))
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(orderflow_platform::HttpMetricsLayer::new())
        .layer(TraceLayer)
        .with_state(state)
}

/// `POST /orders`: a customer places for itself, an operator for anyone.
#[utoipa::path(post, path = "/orders", tag = "orders", operation_id = "place_order",
    summary = "Place an order (a customer for itself, operators for anyone)",
    params(CommandHeaders),
    request_body(content = PlaceOrderBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed (also the replayed answer to a retry)", body = CommandResponse,
            headers(("Location" = String, description = "`/orders/{id}`"),
                ("ETag" = String, description = "The order's version, for `If-Match`"),
                ("Idempotent-Replayed" = String, description = "`true` on a retry's replayed answer"))),
        (status = 200, description = "An order with this `order_id` and the same content was placed \
            before: nothing changed (how a retry without an `Idempotency-Key` is answered)",
            body = CommandResponse,
            headers(("ETag" = String, description = "The order's version, for `If-Match`"),
                ("Idempotent-Replayed" = String, description = "`true`"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType), (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests), (status = 503, response = ServiceUnavailable),
    ))]
async fn place(
    State(app): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Result<JsonBody<PlaceOrderBody>, ApiError>,
) -> Result<Response, ApiError> {
    let refuse = |e| refused(CommandKind::Place, e);
    let JsonBody(body) = body.map_err(refuse)?;
    let (order_id, command) = body
        .into_command(app.confirmation())
        .map_err(|e| refuse(ApiError::InvalidFields(e)))?;
    if let Command::Place(placed) = &command
        && !caller.may_act_for(&placed.customer_id)
    {
        return Err(refuse(ApiError::Forbidden(
            "A customer may place orders only for itself: customer_id must be the token's subject.",
        )));
    }
    let order_id = order_id.or_else(|| {
        let key = extract::idempotency_key(&headers).ok().flatten()?;
        Some(derived_order_id(&caller.subject, &key))
    });
    let order_id = order_id.unwrap_or_else(|| app.new_order_id());
    let request = request(&headers, caller, order_id, command).map_err(refuse)?;
    submit(&app, request).await
}

/// The order id an `Idempotency-Key` derives when the client names none, scoped to the
/// caller: a retry finds the same order (and partition), and two callers' equal keys do not.
pub(crate) fn derived_order_id(subject: &str, key: &str) -> String {
    let scoped = idempotency::scoped_key(subject, key);
    Uuid::new_v5(&ORDER_ID_NAMESPACE, scoped.as_bytes()).to_string()
}

/// A transition: the body names the command, the path names the order. Cancelling is for
/// the order's customer or an operator (the worker knows the owner); the rest is for
/// operators, refused before the body is read.
async fn transition<B: TransitionBody>(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let refuse = |e| refused(B::KIND, e);
    if let Some(refusal) = role_refusal(B::KIND, &caller) {
        return Err(refuse(ApiError::Forbidden(refusal)));
    }
    let id = order_id_in(path).map_err(refuse)?;
    let headers = request.headers().clone();
    let JsonBody(body) = JsonBody::<B>::from_request(request, &())
        .await
        .map_err(refuse)?;
    let command = body
        .into_command()
        .map_err(|e| refuse(ApiError::InvalidFields(e)))?;
    // The request's own checks come before its preconditions and the order's state (RFC
    // 9110 §13.2.1): a malformed command is a 422 whatever the order, never a 412 or 409.
    let malformed: Vec<_> = violations(&command).into_iter().map(field_error).collect();
    if !malformed.is_empty() {
        return Err(refuse(ApiError::InvalidFields(malformed)));
    }
    let request = self::request(&headers, caller, id, command).map_err(refuse)?;
    submit(&app, request).await
}

/// Why `caller` may not ask for `kind` at all, if it may not. Whose order it is, is the
/// worker's check.
fn role_refusal(kind: CommandKind, caller: &Principal) -> Option<&'static str> {
    match kind {
        CommandKind::Confirm | CommandKind::Reject => (!caller.has(Role::Fulfilment))
            .then_some("Only the fulfilment service confirms or rejects orders."),
        CommandKind::Cancel | CommandKind::Place => None,
        _ => (!caller.is_operator())
            .then_some("Only operators may pack, ship, track or deliver orders."),
    }
}

/// Counts a command refused before it reached its worker, as [`submit`] counts the rest:
/// each command handled is counted once.
fn refused(kind: CommandKind, error: ApiError) -> ApiError {
    metrics::command_refused(kind, &error);
    error
}

/// The order id of the path; an id that could never have been placed names no order.
fn order_id_in(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::BadPath(e.body_text()))?;
    validate_order_id(&id).map_err(|_| CommandError::NotFound(id.clone()))?;
    Ok(id)
}

/// The command with what its headers say. The `Idempotency-Key` is scoped to the caller.
fn request(
    headers: &HeaderMap,
    caller: Principal,
    order_id: String,
    command: Command,
) -> Result<CommandRequest, ApiError> {
    let idempotency_key = extract::idempotency_key(headers)?
        .map(|key| idempotency::scoped_key(&caller.subject, &key));
    Ok(CommandRequest {
        order_id,
        command,
        precondition: extract::precondition(headers)?,
        idempotency_key,
        correlation_id: extract::correlation_id(headers)?,
        caller,
        span: tracing::Span::current(),
    })
}

async fn submit(app: &AppState, request: CommandRequest) -> Result<Response, ApiError> {
    let kind = request.command.kind();
    let answer = app.submit(request).await;
    metrics::command_answered(kind, &answer);
    Ok(ack_response(&answer?))
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

/// `GET /orders/{id}`: the write side's view (status and version), for `If-Match`; the
/// order's customer or an operator.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", operation_id = "inspect_order",
    summary = "The write side's view of an order: status and version (its customer or operators)",
    params(OrderId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = OrderView,
            headers(("ETag" = String, description = "The order's version, for `If-Match`"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests), (status = 503, response = ServiceUnavailable),
    ))]
async fn inspect(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id_in(path)?;
    let order = app.inspect(&id, caller).await?;
    let status = order
        .status
        .ok_or_else(|| CommandError::NotFound(id.clone()))?;
    let body = OrderView {
        order_id: id,
        status: status.as_str(),
        version: order.version,
    };
    Ok(([(header::ETAG, etag(order.version))], Json(body)).into_response())
}

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses(
        (status = 200, description = "Alive", body = Object, example = json!({"status": "alive"})),
        (status = 503, response = ServiceUnavailable),
    ))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "alive"}))
}

/// `GET /readyz`: replayed, broker reachable, allowed by its ACLs.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready", body = Object,
            example = json!({"status": "ready", "partitions": 6, "auth": "enabled"})),
        (status = 503, response = ServiceUnavailable),
    ))]
async fn ready(State(app): State<AppState>) -> Response {
    let readiness = app.readiness();
    let (replayed, total) = readiness.progress();
    let (failure, stalled) = (readiness.failure(), readiness.stall_reason());
    let denied = readiness.access_denied();
    let auth_ready = app.authenticator().is_ready();
    let up = readiness.is_replayed() && readiness.is_broker_up() && denied.is_none() && auth_ready;
    let auth = app.authenticator().status();
    if failure.is_none() && stalled.is_none() && up {
        let body = serde_json::json!({"status": "ready", "partitions": total, "auth": auth});
        return Json(body).into_response();
    }
    let detail = if let Some(failure) = failure {
        format!(
            "The event log cannot be read: {failure}. Restart the service once the log is fixed."
        )
    } else if let Some(denied) = denied {
        format!("The broker refuses this service: {denied}. It retries until its ACLs allow it.")
    } else if let Some(stalled) = stalled {
        format!(
            "Reading the event log stopped at a record: {stalled}. \
             It goes on by itself once the registry knows the schema."
        )
    } else if !auth_ready {
        "The identity provider's keys (JWKS) have not been loaded yet.".to_owned()
    } else if readiness.is_replayed() {
        "The broker is unreachable.".to_owned()
    } else {
        format!("Replaying the event log: {replayed} of {total} partitions done.")
    };
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", detail)
        .with("partitions_replayed", replayed)
        .with("partitions", total)
        .with("broker_reachable", readiness.is_broker_up())
        .with("auth", auth)
        .retry_after(1)
        .into_response()
}
