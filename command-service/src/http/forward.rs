//! Forwarding (ADR 0015): a command for an order whose partition another instance serves
//! is sent on to that instance, with its method, path, headers (the token included) and
//! body, and the owner's answer goes back unchanged. The owner is found in the group's
//! description (`ownership::directory`). A forwarded request carries
//! `Orderflow-Forwarded-By`; one that reaches an instance that does not serve the order
//! either (ownership moved meanwhile) gets 503 with `Retry-After`, never a second hop.
//!
//! Runs inside authentication: an instance refuses a bad token itself, and the owner
//! checks it again.

use crate::app::AppState;
use crate::http::ApiError;
use crate::metrics;
use crate::ownership::partitions::Held;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orderflow_auth::Principal;

/// Marks a request an instance forwarded, with the forwarder's URL.
pub const FORWARDED_BY: &str = "orderflow-forwarded-by";

/// Largest body forwarded (the routes' own limit).
const BODY_LIMIT: usize = 64 * 1024;

/// Serves the request here when this instance serves its order (or it names none), and
/// forwards it to the owner otherwise.
pub async fn forward(State(app): State<AppState>, request: Request, next: Next) -> Response {
    // Only a placement names its order in its body: any other request is routed on its
    // path, and served here without its body being touched.
    let placing = request.method() == Method::POST && request.uri().path() == "/orders";
    let (parts, body) = request.into_parts();
    let (body, bytes) = if placing {
        match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(bytes) => (Body::from(bytes.clone()), bytes),
            Err(e) => return unreadable(&e).into_response(),
        }
    } else {
        (body, Bytes::new())
    };
    let caller = parts.extensions.get::<Principal>().cloned();
    let order_id = order_of(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &bytes,
        caller.as_ref(),
    );
    let partition = order_id.as_deref().and_then(|id| app.partition_of(id));
    let Some(partition) = partition.filter(|&p| app.readiness().held(p) == Held::NotOwned) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    if parts.headers.contains_key(FORWARDED_BY) {
        return failed();
    }
    let Some(owner) = app.owner_of(partition).await else {
        return failed();
    };
    let bytes = if placing {
        bytes
    } else {
        match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(e) => return unreadable(&e).into_response(),
        }
    };
    match send(&app, &owner, &parts, bytes).await {
        Ok(response) => {
            metrics::forwarded("forwarded");
            response
        }
        Err(e) => {
            tracing::warn!(%owner, partition, error = %e, "forwarding a command failed");
            // The owner may be gone: the next lookup asks the group again.
            app.forget_owners().await;
            failed()
        }
    }
}

/// A body that did not arrive whole: too large (413), or cut off.
fn unreadable(e: &axum::Error) -> ApiError {
    let too_large =
        std::error::Error::source(e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
    ApiError::Body(if too_large {
        orderflow_platform::http::BodyError::PayloadTooLarge
    } else {
        orderflow_platform::http::BodyError::Malformed(format!("the body could not be read: {e}"))
    })
}

/// A command this instance could not send on: 503, counted.
fn failed() -> Response {
    metrics::forwarded("failed");
    moved().into_response()
}

fn moved() -> ApiError {
    ApiError::from(crate::ownership::moved())
}

/// The order a command names: the path's `/orders/{id}…`, or for `POST /orders` the
/// body's `order_id`, or the id its `Idempotency-Key` derives (`None`: a new order,
/// placed here).
fn order_of(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    caller: Option<&Principal>,
) -> Option<String> {
    let rest = path.strip_prefix("/orders/");
    if let Some(id) = rest.map(|r| r.split('/').next().unwrap_or_default()) {
        return (!id.is_empty()).then(|| percent_decoded(id));
    }
    if method != Method::POST || path != "/orders" {
        return None;
    }
    let named = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|b| b["order_id"].as_str().map(str::to_owned));
    named.or_else(|| {
        let key = headers.get("idempotency-key")?.to_str().ok()?;
        Some(super::derived_order_id(&caller?.subject, key))
    })
}

fn percent_decoded(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Sends the request to `owner` and turns its answer into this one's.
async fn send(
    app: &AppState,
    owner: &str,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = app
        .forwarder()
        .request(
            parts.method.clone(),
            format!("{}{path}", owner.trim_end_matches('/')),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            request = request.header(name, value);
        }
    }
    let answer = request
        .header(FORWARDED_BY, app.advertised_url())
        .send()
        .await?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    // A command's answer is a small JSON document; anything far larger is refused.
    if answer.content_length().is_some_and(|n| n > 1 << 20) {
        return Ok(moved().into_response());
    }
    let bytes = answer.bytes().await?;
    Ok(response
        .body(Body::from(bytes))
        .unwrap_or_else(|_| moved().into_response()))
}

/// Headers of one connection, not of the request: never passed on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "proxy-authorization"
            | "proxy-connection"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_auth::Role;

    #[test]
    fn the_order_of_a_command_comes_from_its_path_its_body_or_its_key() {
        let caller = Principal::new("c-1", [Role::Customer]);
        let none = HeaderMap::new();
        let mut keyed = HeaderMap::new();
        keyed.insert("idempotency-key", "k-1".parse().unwrap());
        let post = Method::POST;
        type Case<'a> = (&'a Method, &'a str, &'a HeaderMap, &'a [u8], Option<String>);
        let table: [Case; 6] = [
            (
                &post,
                "/orders/o%201/pack",
                &none,
                b"{}",
                Some("o 1".into()),
            ),
            (&Method::GET, "/orders/o-2", &none, b"", Some("o-2".into())),
            (
                &post,
                "/orders",
                &none,
                br#"{"order_id":"o-3"}"#,
                Some("o-3".into()),
            ),
            (
                &post,
                "/orders",
                &keyed,
                b"{}",
                Some(super::super::derived_order_id("c-1", "k-1")),
            ),
            (&post, "/orders", &none, b"{}", None),
            (&Method::GET, "/healthz", &none, b"", None),
        ];
        for (method, path, headers, body, expected) in table {
            assert_eq!(
                order_of(method, path, headers, body, Some(&caller)),
                expected,
                "{path}"
            );
        }
    }
}
