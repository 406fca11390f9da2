//! `/compatibility/...` for every level, and compatibility enforcement on registration.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// `POST /compatibility/subjects/{subject}/versions/{version}` → `is_compatible`.
async fn is_compatible(app: &TestApp, subject: &str, version: &str, schema: &str) -> bool {
    let response = app
        .post(
            &format!("/compatibility/subjects/{subject}/versions/{version}"),
            &json!({ "schema": schema, "schemaType": "AVRO" }),
        )
        .await;
    let body = expect_json(response, StatusCode::OK).await;
    assert!(
        body.get("messages").is_none(),
        "messages only when verbose: {body}"
    );
    body["is_compatible"].as_bool().expect("is_compatible")
}

#[tokio::test]
async fn every_level_accepts_and_rejects_the_right_changes() {
    let app = spawn_app().await;
    let base = probe(&[ID, QTY]);
    let add_optional = probe(&[ID, QTY, NOTE_DEFAULT]);
    // New reader needs a value old data lacks: breaks backward.
    let add_required = probe(&[ID, QTY, EXTRA]);
    // Old reader needs a value new data lacks: breaks forward.
    let remove_required = probe(&[ID]);

    // (level, add_required compatible?, remove_required compatible?)
    let expectations = [
        ("NONE", true, true),
        ("BACKWARD", false, true),
        ("BACKWARD_TRANSITIVE", false, true),
        ("FORWARD", true, false),
        ("FORWARD_TRANSITIVE", true, false),
        ("FULL", false, false),
        ("FULL_TRANSITIVE", false, false),
    ];
    for (level, add_ok, remove_ok) in expectations {
        let subject = format!("level-{}", level.to_lowercase());
        app.set_level(&subject, level).await;
        app.register_ok(&subject, &base).await;
        for version in ["latest", "1"] {
            assert!(
                is_compatible(&app, &subject, version, &add_optional).await,
                "{level}"
            );
            assert_eq!(
                is_compatible(&app, &subject, version, &add_required).await,
                add_ok,
                "{level} add"
            );
            assert_eq!(
                is_compatible(&app, &subject, version, &remove_required).await,
                remove_ok,
                "{level} remove"
            );
        }
    }
}

#[tokio::test]
async fn the_global_default_is_backward() {
    let app = spawn_app().await;
    app.register_ok("orders-value", &probe(&[ID])).await;
    assert!(!is_compatible(&app, "orders-value", "latest", &probe(&[ID, QTY])).await);
    assert!(is_compatible(&app, "orders-value", "latest", &probe(&[ID, QTY_DEFAULT])).await);
    let rejected = app.register("orders-value", &probe(&[ID, QTY])).await;
    expect_error(rejected, StatusCode::CONFLICT, 409).await;
}

#[tokio::test]
async fn full_transitive_registration_is_rejected_with_details() {
    let app = spawn_app().await;
    app.set_level("orders-value", "FULL").await;
    app.register_ok("orders-value", &probe(&[ID, QTY])).await;
    app.register_ok("orders-value", &probe(&[ID, QTY_DEFAULT]))
        .await;
    // Fully compatible with v2 (its default fills `qty`), but v1 cannot read it.
    let candidate = probe(&[ID]);

    app.set_level("orders-value", "FULL_TRANSITIVE").await;
    let rejected = app.register("orders-value", &candidate).await;
    let message = expect_error(rejected, StatusCode::CONFLICT, 409).await;
    assert!(
        message.starts_with(
            "Schema being registered is incompatible with an earlier schema for subject \"orders-value\""
        ),
        "{message}"
    );
    assert!(message.contains("version 1 cannot read"), "{message}");
    assert!(message.contains("qty"), "{message}");
    let versions = expect_json(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, json!([1, 2]), "nothing registered");

    // The all-versions check mirrors registration; the single-version one does not.
    let all = app
        .post(
            "/compatibility/subjects/orders-value/versions?verbose=true",
            &json!({ "schema": candidate }),
        )
        .await;
    let all = expect_json(all, StatusCode::OK).await;
    assert_eq!(all["is_compatible"], json!(false));
    assert_eq!(all["messages"].as_array().unwrap().len(), 1, "{all}");
    assert!(is_compatible(&app, "orders-value", "latest", &candidate).await);
    assert!(!is_compatible(&app, "orders-value", "1", &candidate).await);

    app.set_level("orders-value", "FULL").await;
    app.register_ok("orders-value", &candidate).await;
}

#[tokio::test]
async fn backward_transitive_registration_checks_all_versions() {
    let app = spawn_app().await;
    app.set_level("orders-value", "BACKWARD_TRANSITIVE").await;
    app.register_ok("orders-value", &probe(&[ID])).await;
    app.register_ok("orders-value", &probe(&[ID, QTY_DEFAULT]))
        .await;
    // Reads v2 data but not v1 data, which has no `qty`.
    let candidate = probe(&[ID, QTY]);
    expect_error(
        app.register("orders-value", &candidate).await,
        StatusCode::CONFLICT,
        409,
    )
    .await;
    app.set_level("orders-value", "BACKWARD").await;
    app.register_ok("orders-value", &candidate).await;
}

#[tokio::test]
async fn verbose_results_and_edge_cases() {
    let app = spawn_app().await;
    // `latest` on a subject without versions is compatible (recent Confluent behaviour).
    assert!(is_compatible(&app, "empty-value", "latest", &probe(&[ID])).await);
    let missing = app
        .post(
            "/compatibility/subjects/empty-value/versions/1",
            &json!({ "schema": probe(&[ID]) }),
        )
        .await;
    expect_error(missing, StatusCode::NOT_FOUND, 40401).await;

    app.register_ok("orders-value", &probe(&[ID])).await;
    let missing_version = app
        .post(
            "/compatibility/subjects/orders-value/versions/7",
            &json!({ "schema": probe(&[ID]) }),
        )
        .await;
    expect_error(missing_version, StatusCode::NOT_FOUND, 40402).await;

    let verbose = app
        .post(
            "/compatibility/subjects/orders-value/versions/latest?verbose=true",
            &json!({ "schema": probe(&[ID, QTY]) }),
        )
        .await;
    let verbose = expect_json(verbose, StatusCode::OK).await;
    assert_eq!(verbose["is_compatible"], json!(false));
    let message = verbose["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with("BACKWARD: the new schema cannot read data written with version 1"),
        "{message}"
    );

    let ok = app
        .post(
            "/compatibility/subjects/orders-value/versions/latest?verbose=True",
            &json!({ "schema": probe(&[ID, QTY_DEFAULT]) }),
        )
        .await;
    assert_eq!(
        expect_json(ok, StatusCode::OK).await,
        json!({"is_compatible": true, "messages": []})
    );

    // Invalid schemas: 42201 normally, an incompatible verdict when verbose.
    let invalid = json!({ "schema": "{\"type\": \"nope\"}" });
    let plain = app
        .post(
            "/compatibility/subjects/orders-value/versions/latest",
            &invalid,
        )
        .await;
    expect_error(plain, StatusCode::UNPROCESSABLE_ENTITY, 42201).await;
    let verbose = app
        .post(
            "/compatibility/subjects/orders-value/versions/latest?verbose=true",
            &invalid,
        )
        .await;
    let verbose = expect_json(verbose, StatusCode::OK).await;
    assert_eq!(verbose["is_compatible"], json!(false));
    assert_eq!(verbose["messages"].as_array().unwrap().len(), 1);

    let bad_version = app
        .post(
            "/compatibility/subjects/orders-value/versions/0",
            &json!({ "schema": probe(&[ID]) }),
        )
        .await;
    expect_error(bad_version, StatusCode::UNPROCESSABLE_ENTITY, 42202).await;
}
