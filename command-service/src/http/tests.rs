//! The router in isolation (`oneshot`, no broker): request parsing and error mapping.

use super::router;
use crate::app::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use orderflow_auth::Authenticator;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

async fn send(request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let app = router(AppState::new(
        Duration::from_secs(1),
        Authenticator::disabled(),
    ));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(uri: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

const ORDER: &str = r#"{"customer_id":"c","items":[{"product_id":"p","quantity":1,"unit_price":"1.00"}],"shipping_address":"a"}"#;

#[tokio::test]
async fn every_error_is_problem_json() {
    let cases = [
        (
            post("/orders", "application/json", "{nope"),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/orders", "text/plain", ORDER),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            post("/orders", "application/json", r#"{"customer_id":"c"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Request::get("/orders/x/pack").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Request::get("/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            post(
                "/orders/%FF/pack",
                "application/json",
                r#"{"warehouse":"w"}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                "/orders/a%20b/pack",
                "application/json",
                r#"{"warehouse":"w"}"#,
            ),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (request, expected) in cases {
        let uri = request.uri().to_string();
        let (status, content_type, body) = send(request).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{uri}"
        );
        assert_eq!(body["status"], expected.as_u16(), "{uri}");
    }
}

#[tokio::test]
async fn commands_before_the_log_side_is_up_get_503_with_retry_after() {
    let app = router(AppState::new(
        Duration::from_secs(1),
        Authenticator::disabled(),
    ));
    let response = app
        .oneshot(post("/orders", "application/json", ORDER))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn a_price_that_would_need_rounding_is_refused() {
    let body = ORDER.replace("1.00", "25.990000000000000000000000000001");
    let (status, _, problem) = send(post("/orders", "application/json", &body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "items[0].unit_price");
}

#[tokio::test]
async fn readyz_says_when_authentication_is_off() {
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, _, body) = send(request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "not replayed yet");
    assert_eq!(body["auth"], "disabled");
}

#[tokio::test]
async fn the_api_document_and_its_page_need_no_token() {
    let auth = Authenticator::start(&orderflow_testkit::TestIssuer::shared().settings()).unwrap();
    let app = router(AppState::new(Duration::from_secs(1), auth));
    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    let orders = app.clone().oneshot(get("/orders/o-1")).await.unwrap();
    assert_eq!(
        orders.status(),
        StatusCode::UNAUTHORIZED,
        "the orders need one"
    );
    for (uri, media_type) in [
        ("/openapi.json", "application/json"),
        ("/docs", "text/html"),
        ("/docs/redoc.standalone.js", "text/javascript"),
    ] {
        let response = app.clone().oneshot(get(uri)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.starts_with(media_type),
            "{uri}: {content_type}"
        );
    }
    let response = app.oneshot(get("/openapi.json")).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served, serde_json::to_value(super::openapi()).unwrap());
}
