//! Confluent error bodies, content negotiation and the small utility endpoints.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn invalid_and_unsupported_schemas_are_42201() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "schema": "{\"type\": \"record\", \"name\": \"R\"}" }),
            "Invalid schema",
        ),
        (json!({ "schema": "not json" }), "Invalid schema"),
        (json!({ "schema": "" }), "Empty schema"),
        (
            json!({ "schema": "\"string\"", "schemaType": "PROTOBUF" }),
            "only AVRO",
        ),
        (
            json!({ "schema": "\"string\"", "references": [
                { "name": "x", "subject": "y", "version": 1 }
            ] }),
            "references are not supported by the dev registry",
        ),
    ];
    for (body, expected) in cases {
        let response = app.post("/subjects/orders-value/versions", &body).await;
        let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, 42201).await;
        assert!(message.contains(expected), "{body}: {message}");
    }
    let subjects = expect_json(app.get("/subjects").await, StatusCode::OK).await;
    assert_eq!(subjects, json!([]), "nothing was registered");
}

#[tokio::test]
async fn malformed_bodies_are_422() {
    let app = spawn_app().await;
    for body in ["{", "[1, 2]", "{\"schema\": 5}", ""] {
        let response = app
            .client
            .post(app.url("/subjects/orders-value/versions"))
            .body(body)
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
        assert!(message.contains("malformed JSON body"), "{body}: {message}");
    }
}

#[tokio::test]
async fn not_found_errors() {
    let app = spawn_app().await;
    let message = expect_error(
        app.get("/subjects/nope/versions").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
    assert_eq!(message, "Subject 'nope' not found.");
    expect_error(
        app.get("/subjects/nope/versions/latest").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
    expect_error(
        app.get("/subjects/nope/versions/1").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
    expect_error(
        app.delete("/subjects/nope/versions/1").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
    expect_error(
        app.delete("/subjects/nope").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;

    let message = expect_error(
        app.get("/schemas/ids/4242").await,
        StatusCode::NOT_FOUND,
        40403,
    )
    .await;
    assert_eq!(message, "Schema 4242 not found");
    expect_error(
        app.get("/schemas/ids/abc").await,
        StatusCode::NOT_FOUND,
        40403,
    )
    .await;
    expect_error(
        app.get("/schemas/ids/4242/versions").await,
        StatusCode::NOT_FOUND,
        40403,
    )
    .await;

    let message = expect_error(app.get("/no/such/route").await, StatusCode::NOT_FOUND, 404).await;
    assert_eq!(message, "HTTP 404 Not Found");
    let wrong_method = app.client.patch(app.url("/subjects")).send().await.unwrap();
    expect_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, 405).await;
}

#[tokio::test]
async fn invalid_versions_are_42202() {
    let app = spawn_app().await;
    app.register_ok("orders-value", &probe(&[ID])).await;
    for version in ["0", "-5", "abc", "99999999999"] {
        let response = app
            .get(&format!("/subjects/orders-value/versions/{version}"))
            .await;
        let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, 42202).await;
        assert!(message.contains(&format!("'{version}'")), "{message}");
    }
    expect_error(
        app.get("/subjects/orders-value/versions/2").await,
        StatusCode::NOT_FOUND,
        40402,
    )
    .await;
    // Confluent accepts -1 as an alias for latest.
    let latest = expect_json(
        app.get("/subjects/orders-value/versions/-1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest["version"], json!(1));
}

#[tokio::test]
async fn any_request_content_type_is_accepted() {
    let app = spawn_app().await;
    let body = json!({ "schema": probe(&[ID]) }).to_string();
    let mut ids = Vec::new();
    for content_type in [
        Some("application/vnd.schemaregistry.v1+json"),
        Some("application/vnd.schemaregistry+json"),
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(app.url("/subjects/orders-value/versions"))
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        ids.push(expect_json(response, StatusCode::OK).await["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[tokio::test]
async fn root_health_and_types() {
    let app = spawn_app().await;
    assert_eq!(
        expect_json(app.get("/").await, StatusCode::OK).await,
        json!({})
    );
    assert_eq!(
        expect_json(app.get("/healthz").await, StatusCode::OK).await,
        json!({ "status": "ok" })
    );
    assert_eq!(
        expect_json(app.get("/schemas/types").await, StatusCode::OK).await,
        json!(["AVRO"])
    );
}
