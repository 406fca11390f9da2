//! `/config` and `/config/{subject}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn global_level_defaults_to_backward_and_can_be_changed() {
    let app = spawn_app().await;
    let initial = expect_json(app.get("/config").await, StatusCode::OK).await;
    assert_eq!(initial, json!({ "compatibilityLevel": "BACKWARD" }));

    let updated = app
        .put("/config", &json!({ "compatibility": "full_transitive" }))
        .await;
    assert_eq!(
        expect_json(updated, StatusCode::OK).await,
        json!({ "compatibility": "FULL_TRANSITIVE" })
    );
    let current = expect_json(app.get("/config").await, StatusCode::OK).await;
    assert_eq!(current, json!({ "compatibilityLevel": "FULL_TRANSITIVE" }));

    // Subjects without their own level follow the global one.
    let effective = app.get("/config/orders-value?defaultToGlobal=true").await;
    assert_eq!(
        expect_json(effective, StatusCode::OK).await,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );

    let reset = expect_json(app.delete("/config").await, StatusCode::OK).await;
    assert_eq!(reset, json!({ "compatibilityLevel": "FULL_TRANSITIVE" }));
    let current = expect_json(app.get("/config").await, StatusCode::OK).await;
    assert_eq!(current, json!({ "compatibilityLevel": "BACKWARD" }));
}

#[tokio::test]
async fn subject_level_overrides_and_falls_back() {
    let app = spawn_app().await;
    let unset = app.get("/config/orders-value").await;
    let message = expect_error(unset, StatusCode::NOT_FOUND, 40408).await;
    assert_eq!(
        message,
        "Subject 'orders-value' does not have subject-level compatibility configured"
    );

    app.put("/config", &json!({ "compatibility": "FORWARD" }))
        .await;
    app.set_level("orders-value", "NONE").await;
    for path in [
        "/config/orders-value",
        "/config/orders-value?defaultToGlobal=true",
    ] {
        let level = expect_json(app.get(path).await, StatusCode::OK).await;
        assert_eq!(level, json!({ "compatibilityLevel": "NONE" }), "{path}");
    }
    // The subject level, not the global one, governs registration.
    app.register_ok("orders-value", &probe(&[ID])).await;
    app.register_ok(
        "orders-value",
        &probe(&[r#"{"name":"id","type":"boolean"}"#]),
    )
    .await;

    let deleted = expect_json(app.delete("/config/orders-value").await, StatusCode::OK).await;
    assert_eq!(deleted, json!({ "compatibilityLevel": "NONE" }));
    expect_error(
        app.get("/config/orders-value").await,
        StatusCode::NOT_FOUND,
        40408,
    )
    .await;
    expect_error(
        app.delete("/config/orders-value").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
    let effective = app.get("/config/orders-value?defaultToGlobal=true").await;
    assert_eq!(
        expect_json(effective, StatusCode::OK).await,
        json!({ "compatibilityLevel": "FORWARD" })
    );
}

#[tokio::test]
async fn invalid_levels_are_rejected() {
    let app = spawn_app().await;
    for body in [
        json!({ "compatibility": "SIDEWAYS" }),
        json!({ "compatibility": "" }),
        json!({ "normalize": true }),
    ] {
        let response = app.put("/config/orders-value", &body).await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, 42203).await;
    }
    let global = app
        .put("/config", &json!({ "compatibility": "BACKWARDS" }))
        .await;
    expect_error(global, StatusCode::UNPROCESSABLE_ENTITY, 42203).await;
    let current = expect_json(app.get("/config").await, StatusCode::OK).await;
    assert_eq!(current, json!({ "compatibilityLevel": "BACKWARD" }));
}
