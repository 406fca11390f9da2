//! The OpenAPI 3.1 document of the command API, generated from the handlers' annotations
//! and the DTOs, served at `/openapi.json` with a Redoc page at `/docs` (both by
//! `orderflow_platform::docs_page`, as for the query API).
//!
//! What the annotations cannot say is added here from code, in one place: the lifecycle
//! links between operations. The platform documents its own routes (`/openapi.json`,
//! `/docs`, `/metrics`).

use super::transitions;
use orderflow_platform::{FieldError, PROBLEM_JSON, Problem};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{
    Content, Header, ObjectBuilder, OpenApi as Document, Ref, RefOr, Response as Resp, Type,
};
use utoipa::{IntoParams, OpenApi, ToResponse, ToSchema};

/// The OpenAPI document of the command API.
pub fn openapi() -> Document {
    let mut doc = ApiDoc::openapi();
    orderflow_platform::docs_page::add_bearer(
        &mut doc,
        "Roles: `customer` (its own orders, `sub` is the customer id) and `operator` (every \
         order, every command).",
    );
    add_transition_errors(&mut doc);
    add_lifecycle_links(&mut doc);
    // `/openapi.json`, `/docs` and `/metrics` are the platform's routes.
    orderflow_platform::docs_page::document(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderflow command API",
        description = "Commands on orders: place, pack, ship, track, deliver, cancel. \
            Every command is acknowledged once its event is in the Kafka log. \
            Errors are RFC 9457 problem details (`application/problem+json`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::place, super::inspect, transitions::pack, transitions::ship,
        transitions::location, transitions::deliver, transitions::cancel,
        super::healthz, super::ready,
    ),
    components(
        schemas(Problem, FieldError),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, RequestTimeout, Conflict,
            PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, UnprocessableEntity,
            TooManyRequests, ServiceUnavailable,
        ),
    ),
    tags(
        (name = "orders", description = "Commands and the write side's view of an order"),
        (name = "operations", description = "Probes, metrics and this documentation"),
    ),
)]
struct ApiDoc;

/// The transitions (every command on an existing order).
const TRANSITIONS: [&str; 5] = [
    "pack_order",
    "ship_order",
    "update_location",
    "deliver_order",
    "cancel_order",
];

/// What every transition may answer besides 200, by status: the components below.
const TRANSITION_ERRORS: [(&str, &str); 12] = [
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("404", "NotFound"),
    ("408", "RequestTimeout"),
    ("409", "Conflict"),
    ("412", "PreconditionFailed"),
    ("413", "PayloadTooLarge"),
    ("415", "UnsupportedMediaType"),
    ("422", "UnprocessableEntity"),
    ("429", "TooManyRequests"),
    ("503", "ServiceUnavailable"),
];

fn add_transition_errors(doc: &mut Document) {
    let transitions = doc
        .paths
        .paths
        .values_mut()
        .filter_map(|item| item.post.as_mut());
    for op in
        transitions.filter(|op| TRANSITIONS.contains(&op.operation_id.as_deref().unwrap_or("")))
    {
        for (status, name) in TRANSITION_ERRORS {
            let reference = RefOr::Ref(Ref::from_response_name(name));
            op.responses.responses.insert(status.to_owned(), reference);
        }
    }
}

/// Which operations may follow which, so stateful tools can walk an order's lifecycle:
/// every command answers with the order's id, the `{id}` of the next command.
const LIFECYCLE: &[(&str, &[&str])] = &[
    (
        "place_order",
        &["pack_order", "cancel_order", "inspect_order"],
    ),
    (
        "pack_order",
        &["ship_order", "cancel_order", "inspect_order"],
    ),
    (
        "ship_order",
        &["update_location", "deliver_order", "inspect_order"],
    ),
    (
        "update_location",
        &["update_location", "deliver_order", "inspect_order"],
    ),
    ("deliver_order", &["inspect_order"]),
    ("cancel_order", &["inspect_order"]),
];

fn add_lifecycle_links(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        let Some(op) = item.post.as_mut() else {
            continue;
        };
        let Some((_, next)) = LIFECYCLE
            .iter()
            .find(|(from, _)| op.operation_id.as_deref() == Some(from))
        else {
            continue;
        };
        for status in ["200", "201"] {
            if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
                for target in *next {
                    let link = LinkBuilder::new()
                        .operation_id(*target)
                        .parameter("id", "$response.body#/order_id")
                        .build();
                    response.links.insert((*target).to_owned(), RefOr::T(link));
                }
            }
        }
    }
}

/// A problem+json response, with the headers it carries.
fn problem(description: &str, headers: &[(&str, &str)]) -> RefOr<Resp> {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    for (name, text) in headers {
        let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
        header.description = Some((*text).to_owned());
        response = response.header(*name, header);
    }
    RefOr::T(response.build())
}

/// Declares reusable problem responses (`#/components/responses/<Name>`).
macro_rules! problem_responses {
    ($($name:ident: $description:literal $(, $header:literal => $text:literal)?;)*) => {$(
        pub(super) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Resp>) {
                (stringify!($name), problem($description, &[$(($header, $text))?]))
            }
        }
    )*};
}

problem_responses! {
    BadRequest: "The body is not JSON, a header cannot be read (`Idempotency-Key`, `If-Match`, `X-Correlation-Id`) or the path is not valid percent-encoding.";
    Unauthorized: "No bearer token, or one that is invalid or expired.",
        "WWW-Authenticate" => "`Bearer realm=\"orderflow\"`, with `error=\"invalid_token\"` when a token was sent (RFC 6750).";
    Forbidden: "The token is valid but its roles do not allow this command on this order.";
    NotFound: "No such order (an id that could never have been placed is not found either).";
    RequestTimeout: "The request body did not arrive in time; the connection is closed.";
    Conflict: "The order's status does not allow the command (`transition-not-allowed`, with `current_status`), the order exists, the `Idempotency-Key` was used for another request, another writer won, or the location cap is reached.";
    PreconditionFailed: "`If-Match` does not match the order's version (`version-mismatch`, with `current_version`).";
    PayloadTooLarge: "The body exceeds 64 KiB.";
    UnsupportedMediaType: "The body is not `application/json`.";
    UnprocessableEntity: "Fields are missing, unknown, of the wrong type or break the rules; `errors` names each.";
    TooManyRequests: "The caller's rate limit is reached.",
        "Retry-After" => "Seconds to wait before retrying.";
    ServiceUnavailable: "The service is starting, overloaded, too slow or cannot reach the log; retry (with the same `Idempotency-Key`).",
        "Retry-After" => "Seconds to wait before retrying.";
}

/// The status of an order.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: handlers write `Status::as_str`
pub(super) enum OrderStatus {
    Placed,
    Packed,
    Shipped,
    Delivered,
    Cancelled,
}

/// The headers every command reads.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: `extract` reads the headers
pub(super) struct CommandHeaders {
    /// Makes the command safe to retry: a retry with the same key (from the same caller)
    /// gets the first answer again, with `Idempotent-Replayed: true`. 1 to 255 visible
    /// ASCII characters (spaces inside).
    #[param(
        required = false,
        rename = "Idempotency-Key",
        pattern = r"^[!-~]([ -~]{0,253}[!-~])?$",
        example = "9f1c-retry-1"
    )]
    idempotency_key: String,
    /// Carried into the event's metadata and the logs. 1 to 128 visible ASCII characters.
    #[param(
        required = false,
        rename = "X-Correlation-Id",
        pattern = r"^[!-~]([ -~]{0,126}[!-~])?$"
    )]
    correlation_id: String,
    /// W3C trace context (`00-<trace id>-<span id>-<flags>`): the command's trace continues
    /// the caller's. One that does not parse is ignored and a new trace starts, as the W3C
    /// Trace Context recommendation requires, so the document sets no pattern.
    #[param(required = false, rename = "traceparent")]
    traceparent: String,
}

/// `If-Match` of the transitions.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: `extract` reads the header
pub(super) struct IfMatch {
    /// `*` (the order exists) or the versions the order may be at, as strong ETags (`"3"`);
    /// 412 otherwise. Weak tags never match. A bare version (`3`) is read as `"3"`.
    #[param(
        required = false,
        rename = "If-Match",
        pattern = r#"^(\*|((W/)?"[0-9]{1,19}"|[0-9]{1,19})([ \t]*,[ \t]*((W/)?"[0-9]{1,19}"|[0-9]{1,19}))*)$"#,
        example = "\"1\""
    )]
    if_match: String,
}

/// The `{id}` of an order's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documentation only: the handlers read the path
pub(super) struct OrderId {
    /// The order's id, as `POST /orders` answered it.
    #[param(pattern = r"^[A-Za-z0-9._:-]{1,64}$", example = "ord-2026-0001")]
    id: String,
}
