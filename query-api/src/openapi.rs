//! The OpenAPI 3.1 document of this API, generated from the handlers' `#[utoipa::path]`
//! annotations and the types they serve, so it cannot drift from them. Served at
//! `/openapi.json` with a documentation page at `/docs` (`orderflow_platform::docs_page`)
//! and kept in `docs/openapi/query-api.json`.
//!
//! What every operation shares is added here once rather than on each handler: the
//! tracing headers, and the errors answered before a handler runs (authentication, the rate
//! limit, the server's limits, a method the route does not have).

use crate::{app, fulfilment, list, notices, orders, pages, stats, streams, subscriptions};
use orderflow_platform::{FieldError, Problem};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

/// The scheme name the handlers' `security(("bearer" = []))` refers to.
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderflow query API",
        description = "The read side of orderflow: orders as the projector folds them from the \
            event log, their histories, and analytics. Reads are eventually consistent; pass a \
            command's `version` as `min_version` to read your own write.\n\n\
            Every route but the operational ones needs a bearer JWT. A customer sees its own \
            orders (another customer's order is 404); operators see every order and the \
            analytics. Every error is `application/problem+json` (RFC 9457).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        list::list,
        orders::get_order,
        orders::history,
        streams::http::order_events,
        streams::http::all_events,
        stats::orders,
        stats::hourly,
        stats::top_products,
        subscriptions::create,
        subscriptions::list,
        subscriptions::get,
        subscriptions::delete,
        notices::list,
        notices::retry,
        fulfilment::stock,
        fulfilment::list_stock,
        fulfilment::sagas,
        app::alive,
        app::ready,
        pages::track,
        pages::dashboard,
        pages::asset,
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "orders", description = "Orders and their histories."),
        (name = "streams", description = "Live changes, as Server-Sent Events."),
        (name = "stats", description = "Analytics, for operators."),
        (name = "notifications", description = "Subscriptions to orders' status changes (email, \
            signed webhooks) and what the notifier sent."),
        (name = "fulfilment", description = "Stock levels and the sagas of fulfilment, for \
            operators."),
        (name = "pages", description = "The tracking page and the operators' dashboard; \
            no token to load them, the reader's token to see anything."),
        (name = "operations", description = "Probes for orchestrators; no token."),
    ),
)]
struct ApiDoc;

/// The document served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    orderflow_platform::docs_page::document(&mut document);
    Shared.modify(&mut document);
    document
}

/// Adds what every operation shares; see the module docs.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            BEARER.into(),
            RefOr::T(SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT signed by the configured issuer (RS256, ES256 or EdDSA) with \
                         the `customer`, `operator` or `admin` role.",
                    ))
                    .build(),
            )),
        );
        for (name, response) in shared_responses() {
            components.responses.insert(name.into(), RefOr::T(response));
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.delete] {
                if let Some(operation) = operation.as_mut() {
                    share(operation);
                }
            }
        }
    }
}

/// The shared error responses, by the name they are referenced with.
fn shared_responses() -> [(&'static str, utoipa::openapi::Response); 5] {
    [
        (
            "Unauthorized",
            problem("No bearer token, or one that does not verify.")
                .header(
                    "WWW-Authenticate",
                    text_header("The RFC 6750 challenge, with the error when a token was sent."),
                )
                .build(),
        ),
        (
            "MethodNotAllowed",
            problem("The route does not support that method.").build(),
        ),
        (
            "RequestTimeout",
            problem("The request did not arrive within the server's limit.").build(),
        ),
        (
            "TooManyRequests",
            problem("The caller's rate limit is exhausted.")
                .header("Retry-After", retry_after())
                .build(),
        ),
        (
            "ServiceUnavailable",
            problem(
                "Overloaded, past the request timeout, the read model or the signing keys \
                 unavailable: retry after `Retry-After` seconds.",
            )
            .header("Retry-After", retry_after())
            .build(),
        ),
    ]
}

/// Adds the shared headers and responses to one operation: the secured ones also answer 401
/// and 429, from the layers in front of their handlers.
fn share(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(RefOr::T(
        header_parameter(
            "X-Correlation-Id",
            "Correlates the request in logs and traces; echoed in the response.",
        )
        .build(),
    ));
    parameters.push(RefOr::T(
        header_parameter(
            "traceparent",
            "W3C trace context: the request's span joins the caller's trace. One that does \
             not parse is ignored and a new trace starts (W3C Trace Context).",
        )
        .build(),
    ));
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut shared = vec![
        ("405", "MethodNotAllowed"),
        ("408", "RequestTimeout"),
        ("503", "ServiceUnavailable"),
    ];
    if secured {
        shared.extend([("401", "Unauthorized"), ("429", "TooManyRequests")]);
    }
    for (status, name) in shared {
        let reference = RefOr::Ref(Ref::from_response_name(name));
        operation
            .responses
            .responses
            .entry(status.into())
            .or_insert(reference);
    }
}

fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        orderflow_platform::PROBLEM_JSON,
        Content::new(Some(Ref::from_schema_name("Problem"))),
    )
}

fn header_parameter(name: &str, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        // No bounds: this API reads but never refuses them (an overlong correlation id is
        // left out of the logs), so a bound here would promise a 4xx it does not answer.
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
}

fn text_header(description: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn retry_after() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before retrying."))
        .build()
}
