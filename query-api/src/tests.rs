//! Router tests with `oneshot`: the mapping of bad input and outages to problem+json.
//! Postgres points at a closed port, so only requests that get past validation touch it.

use crate::{AppState, Settings, router};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use orderflow_auth::Authenticator;
use serde_json::Value;
use tower::ServiceExt;

fn app() -> axum::Router {
    let mut settings = Settings::for_stack(
        "postgres://orderflow:orderflow@127.0.0.1:1/none",
        "redis://127.0.0.1:1",
    );
    settings.database_timeout_ms = 200;
    router(AppState::new(&settings, Authenticator::disabled()).unwrap())
}

async fn call(method: Method, uri: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, content_type, body)
}

/// Asserts a problem+json of `status` whose detail mentions `needle`.
async fn problem(uri: &str, status: StatusCode, needle: &str) -> Value {
    let (actual, content_type, body) = call(Method::GET, uri).await;
    assert_eq!(actual, status, "{uri}: {body}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(needle), "{uri}: {detail}");
    body
}

#[tokio::test]
async fn unparsable_parameters_are_400_naming_them() {
    problem("/orders?limit=abc", StatusCode::BAD_REQUEST, "limit").await;
    problem("/orders?limit=-1", StatusCode::BAD_REQUEST, "limit").await;
    problem(
        "/orders/o-1?min_version=x",
        StatusCode::BAD_REQUEST,
        "min_version",
    )
    .await;
    problem(
        "/stats/products/top?limit=1.5",
        StatusCode::BAD_REQUEST,
        "limit",
    )
    .await;
    problem("/orders?cursor=zz", StatusCode::BAD_REQUEST, "cursor").await;
}

#[tokio::test]
async fn out_of_range_parameters_are_422_naming_them() {
    let body = problem(
        "/orders?limit=201",
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "limit");
    problem("/orders?limit=0", StatusCode::UNPROCESSABLE_ENTITY, "limit").await;
    // A NUL would make Postgres fail the query: refused before any lookup.
    problem(
        "/orders?customer_id=%00",
        StatusCode::UNPROCESSABLE_ENTITY,
        "customer_id",
    )
    .await;
    problem(
        "/orders?status=lost",
        StatusCode::UNPROCESSABLE_ENTITY,
        "status",
    )
    .await;
    problem(
        "/stats/products/top?limit=101",
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
    problem(
        "/orders/o-1?min_version=2&wait_ms=10001",
        StatusCode::UNPROCESSABLE_ENTITY,
        "wait_ms",
    )
    .await;
    problem(
        "/orders/o-1/history?after_version=9223372036854775808",
        StatusCode::UNPROCESSABLE_ENTITY,
        "after_version",
    )
    .await;
    problem(
        "/orders/o-1?min_version=9223372036854775808",
        StatusCode::UNPROCESSABLE_ENTITY,
        "min_version",
    )
    .await;
    problem(
        "/orders/o-1?wait_ms=10",
        StatusCode::UNPROCESSABLE_ENTITY,
        "wait_ms",
    )
    .await;
    problem(
        "/stats/revenue/hourly?from=yesterday",
        StatusCode::UNPROCESSABLE_ENTITY,
        "from",
    )
    .await;
    problem(
        "/stats/revenue/hourly?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        StatusCode::UNPROCESSABLE_ENTITY,
        "from",
    )
    .await;
}

#[tokio::test]
async fn impossible_order_ids_are_404_without_a_lookup() {
    problem("/orders/a%20b", StatusCode::NOT_FOUND, "a b").await;
    problem("/orders/a%20b/history", StatusCode::NOT_FOUND, "a b").await;
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after() {
    let request = Request::builder()
        .uri("/orders/o-1")
        .body(Body::empty())
        .unwrap();
    let response = app().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    problem("/stats/orders", StatusCode::SERVICE_UNAVAILABLE, "retry").await;
    problem("/readyz", StatusCode::SERVICE_UNAVAILABLE, "unreachable").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    problem("/nope", StatusCode::NOT_FOUND, "No such").await;
    let (status, content_type, _) = call(Method::POST, "/orders").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let (status, _, body) = call(Method::GET, "/healthz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("alive"))
    );
}

#[tokio::test]
async fn readyz_says_when_authentication_is_off() {
    let (status, _, body) = call(Method::GET, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "no database here");
    assert_eq!(body["auth"], "disabled");
}

/// POSTs `body` as `content_type` to `/subscriptions`.
async fn subscribe(content_type: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/subscriptions")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_subscription_body_that_is_not_one_is_refused_before_any_lookup() {
    let json = "application/json";
    let table = [
        (
            "text/plain",
            r#"{"channel":"email"}"#,
            415,
            "unsupported-media-type",
        ),
        (json, r#"{"channel":"#, 400, "malformed-json"),
        (
            json,
            r#"{"channel":"sms","address":"a@b.c"}"#,
            422,
            "invalid-fields",
        ),
        (json, r#"{"channel":"email"}"#, 422, "invalid-fields"),
        (
            json,
            r#"{"channel":"webhook","url":"ftp://x.example"}"#,
            422,
            "invalid-parameter",
        ),
        (
            json,
            r#"{"channel":"email","customer_id":"c-1","address":"nope"}"#,
            422,
            "invalid-parameter",
        ),
        // An operator's email subscription names its customer.
        (
            json,
            r#"{"channel":"email","address":"a@example.com"}"#,
            422,
            "invalid-parameter",
        ),
    ];
    for (content_type, body, status, kind) in table {
        let (actual, problem) = subscribe(content_type, body).await;
        assert_eq!(actual.as_u16(), status, "{body}: {problem}");
        assert!(
            problem["type"].as_str().unwrap().ends_with(kind),
            "{body}: {problem}"
        );
    }
}

#[tokio::test]
async fn a_subscription_or_delivery_id_that_is_not_a_uuid_names_nothing() {
    problem("/subscriptions/42", StatusCode::NOT_FOUND, "42").await;
    let (status, _, _) = call(Method::POST, "/notices/x/deliveries/y/retry").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    problem(
        "/notices?limit=0",
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
}
