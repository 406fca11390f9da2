//! The middleware and the `Caller` extractor in a router, as the APIs use them.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use http_body_util::BodyExt;
use orderflow_auth::{Authenticator, Caller, authenticate};
use orderflow_platform::PROBLEM_JSON;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{issuer, operator_token, settings_for};

async fn who_am_i(Caller(principal): Caller) -> String {
    principal.subject
}

fn app(auth: Authenticator) -> Router {
    Router::new()
        .route("/whoami", get(who_am_i))
        .layer(axum::middleware::from_fn_with_state(auth, authenticate))
}

async fn call(app: Router, authorization: Option<&str>) -> Response {
    let mut request = Request::get("/whoami");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    app.oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn body(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[tokio::test]
async fn the_principal_of_a_valid_token_reaches_the_handler() {
    let (issuer, _dir) = issuer();
    let app = app(Authenticator::start(&settings_for(&issuer)).unwrap());
    let token = operator_token(&issuer);
    let response = call(app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, b"ops-1");
}

#[tokio::test]
async fn a_request_without_a_token_is_challenged_with_a_problem() {
    let (issuer, _dir) = issuer();
    let app = app(Authenticator::start(&settings_for(&issuer)).unwrap());
    let response = call(app, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="orderflow""#
    );
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    let problem: Value = serde_json::from_slice(&body(response).await).unwrap();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["type"], "/problems/unauthorized");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no bearer token")
    );
}

#[tokio::test]
async fn a_request_with_an_invalid_token_is_told_why() {
    let (issuer, _dir) = issuer();
    let app = app(Authenticator::start(&settings_for(&issuer)).unwrap());
    let response = call(app, Some("Bearer not.a.jwt")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(
        challenge
            .starts_with(r#"Bearer realm="orderflow", error="invalid_token", error_description=""#)
    );
    let problem: Value = serde_json::from_slice(&body(response).await).unwrap();
    assert_eq!(
        problem["detail"],
        "the bearer token is not a well-formed JWT"
    );
}

#[tokio::test]
async fn with_authentication_disabled_the_anonymous_principal_reaches_the_handler() {
    let response = call(app(Authenticator::disabled()), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, b"anonymous");
}

#[tokio::test]
async fn a_route_outside_the_middleware_has_no_caller() {
    let app = Router::new().route("/whoami", get(who_am_i));
    let response = call(app, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
