//! The OpenAPI document: open to anyone, the same as `docs/openapi/query-api.json`, an
//! OpenAPI 3.1 document that documents every route with its errors, and routed as
//! documented. Router tests with `oneshot`; Postgres points at a closed port, as no
//! request here needs it.

use super::helpers::issuer;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use orderflow_auth::Authenticator;
use orderflow_query_api::{AppState, Settings, openapi, router};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

/// The checked-in document.
const CHECKED_IN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/openapi/query-api.json"
);

/// How to bring the checked-in document up to date.
const REGENERATE: &str =
    "ORDERFLOW_UPDATE_OPENAPI=1 cargo test -p orderflow-query-api --test api openapi";

/// Every route of the router.
const ROUTES: [&str; 24] = [
    "/orders",
    "/orders/{id}",
    "/orders/{id}/history",
    "/orders/{id}/events",
    "/events",
    "/stats/orders",
    "/stats/revenue/hourly",
    "/stats/products/top",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/redoc.standalone.js",
    "/track/{id}",
    "/dashboard",
    "/assets/{file}",
    "/subscriptions",
    "/subscriptions/{id}",
    "/notices",
    "/notices/{id}/deliveries/{subscription_id}/retry",
    "/stock",
    "/stock/{product_id}",
    "/fulfilment/sagas",
];

/// The router with authentication on, over stores nobody listens on.
async fn app(authenticated: bool) -> Router {
    let mut settings = Settings::for_stack(
        "postgres://orderflow:orderflow@127.0.0.1:1/none",
        "redis://127.0.0.1:1",
    );
    settings.database_timeout_ms = 200;
    let authenticator = if authenticated {
        Authenticator::start(&issuer().settings()).expect("the test issuer's keys")
    } else {
        Authenticator::disabled()
    };
    router(AppState::new(&settings, authenticator).unwrap())
}

async fn get(app: Router, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    // A live stream never ends: its head says enough.
    let streaming = parts
        .headers
        .get("content-type")
        .is_some_and(|t| t == "text/event-stream");
    let body = if streaming {
        Vec::new()
    } else {
        body.collect().await.unwrap().to_bytes().to_vec()
    };
    (parts.status, parts.headers, body)
}

fn document() -> Value {
    serde_json::to_value(openapi()).unwrap()
}

#[tokio::test]
async fn the_document_and_its_page_answer_without_a_token() {
    let app = app(true).await;
    let (status, _, _) = get(app.clone(), "/orders").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "authentication is on");

    let (status, headers, body) = get(app.clone(), "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served, document());

    let (status, headers, body) = get(app.clone(), "/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("spec-url=\"openapi.json\""), "{page}");

    let (status, _, bundle) = get(app, "/docs/redoc.standalone.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bundle.len() > 100_000, "the page's script is built in");
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one() {
    let (_, _, served) = get(app(false).await, "/openapi.json").await;
    let served = String::from_utf8(served).unwrap();
    if std::env::var_os("ORDERFLOW_UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, &served).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        served == checked_in,
        "docs/openapi/query-api.json differs from the served document; if the change is \
         meant, regenerate it with `{REGENERATE}` and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_documents_every_route() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(paths, ROUTES.into_iter().collect());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (route, method, operation) in operations(&doc) {
        let route = route.as_str();
        assert!(operation["operationId"].is_string(), "{method} {route}");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {route}"
        );
        for status in ["405", "408", "503"] {
            assert!(responses.contains_key(status), "{route} lacks {status}");
        }
        let secured = operation["security"][0].get("bearer").is_some();
        if [
            "/orders",
            "/stats",
            "/events",
            "/subscriptions",
            "/notices",
            "/stock",
            "/fulfilment",
        ]
        .iter()
        .any(|secured| route.starts_with(secured))
        {
            assert!(secured, "{method} {route} needs a token");
            for status in ["401", "429"] {
                assert!(responses.contains_key(status), "{route} lacks {status}");
            }
            let parameters = operation["parameters"].as_array();
            if parameters.is_some_and(|p| p.iter().any(|p| p["in"] == "query")) {
                for status in ["400", "422"] {
                    assert!(responses.contains_key(status), "{route} lacks {status}");
                }
            }
        } else {
            assert!(!secured, "{route} is open");
        }
        for (status, response) in responses {
            if status.as_str() >= "400" {
                assert_problem(&doc, response, &format!("{method} {route} {status}"));
            }
        }
    }
}

/// Every operation of the document: its path, method and description.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (route, methods) in doc["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            all.push((route.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// An error response is problem+json with a schema based on `Problem`.
fn assert_problem(doc: &Value, response: &Value, what: &str) {
    let response = resolve(doc, response);
    let content = response["content"].as_object().expect(what);
    let keys: Vec<&String> = content.keys().collect();
    assert_eq!(keys, ["application/problem+json"], "{what}");
    let schema = resolve(doc, &content["application/problem+json"]["schema"]);
    let is_problem = *schema == doc["components"]["schemas"]["Problem"]
        || schema["allOf"][0]["$ref"] == "#/components/schemas/Problem";
    assert!(is_problem, "{what}: {schema}");
}

/// `value`, or what its `$ref` points at.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} resolves"))
        }
        None => value,
    }
}

#[test]
fn every_reference_and_link_resolves() {
    let doc = document();
    let mut references = Vec::new();
    collect(&doc, "$ref", &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(
            doc.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
    let mut targets = Vec::new();
    collect(&doc, "operationId", &mut targets);
    let operations: BTreeSet<String> = targets.into_iter().collect();
    let links = ["getOrderHistory", "listOrders", "getOrder"];
    for link in links {
        assert!(operations.contains(link), "{link}");
    }
    let text = doc.to_string();
    for (route, link) in [
        ("/orders/{id}", "history"),
        ("/orders", "next"),
        ("/orders/{id}/history", "next"),
    ] {
        let links = &doc["paths"][route]["get"]["responses"]["200"]["links"];
        assert!(links.get(link).is_some(), "{route} links {link}: {text}");
    }
}

/// Every string value of `key`, anywhere in `value`.
fn collect(value: &Value, key: &str, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => into.push(s.clone()),
                    _ => collect(v, key, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, key, into)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    for (route, method, _) in operations(&document()) {
        let path = route
            .replace("{id}", "o-1")
            .replace("{file}", "style.css")
            .replace("{subscription_id}", "s-1");
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let request = Request::builder().method(method.clone()).uri(&path);
        let response = app(false)
            .await
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        if response
            .headers()
            .get("content-type")
            .is_some_and(|t| t == "text/event-stream")
        {
            continue;
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_ne!(
            body["type"], "/problems/not-found",
            "{method} {route} is not routed"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {route}");
    }
}
