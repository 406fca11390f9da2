//! Registration, lookup, reads by id and version, and deletion.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn registering_the_same_schema_twice_is_idempotent() {
    let app = spawn_app().await;
    let schema = probe(&[ID]);

    let first = app.register_ok("orders-value", &schema).await;
    let second = app.register_ok("orders-value", &schema).await;
    // Whitespace and key order do not make a different schema.
    let reformatted = r#"{ "namespace": "com.orderflow.test", "name": "Probe",
        "type": "record", "fields": [ { "type": "string", "name": "id" } ] }"#;
    let third = app.register_ok("orders-value", reformatted).await;

    assert_eq!(first, second);
    assert_eq!(first, third);
    let versions = expect_json(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, json!([1]));
}

#[tokio::test]
async fn the_same_schema_in_two_subjects_shares_its_id() {
    let app = spawn_app().await;
    let schema = probe(&[ID]);

    let a = app.register_ok("a-value", &schema).await;
    let b = app.register_ok("b-value", &schema).await;
    let other = app.register_ok("b-value", &probe(&[ID, QTY_DEFAULT])).await;

    assert_eq!(a, b);
    assert_ne!(a, other);
    let usages = expect_json(
        app.get(&format!("/schemas/ids/{a}/versions")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        usages,
        json!([{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}])
    );
    let subjects = expect_json(
        app.get(&format!("/schemas/ids/{a}/subjects")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(subjects, json!(["a-value", "b-value"]));
}

#[tokio::test]
async fn versions_latest_lookup_and_fetch_by_id() {
    let app = spawn_app().await;
    let v1 = probe(&[ID]);
    let v2 = probe(&[ID, QTY_DEFAULT]);
    let id1 = app.register_ok("orders-value", &v1).await;
    let id2 = app.register_ok("orders-value", &v2).await;

    let subjects = expect_json(app.get("/subjects").await, StatusCode::OK).await;
    assert_eq!(subjects, json!(["orders-value"]));
    let versions = expect_json(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, json!([1, 2]));

    let latest = expect_json(
        app.get("/subjects/orders-value/versions/latest").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        latest,
        json!({"subject": "orders-value", "version": 2, "id": id2, "schema": v2})
    );
    let first = expect_json(
        app.get("/subjects/orders-value/versions/1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["id"], json!(id1));
    assert!(
        first.get("schemaType").is_none(),
        "AVRO omits schemaType: {first}"
    );

    let raw = expect_json(
        app.get("/subjects/orders-value/versions/1/schema").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(raw, serde_json::from_str::<serde_json::Value>(&v1).unwrap());

    let by_id = expect_json(
        app.get(&format!("/schemas/ids/{id1}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_id, json!({ "schema": v1 }));
    // Confluent clients add query parameters; they must not break the lookup.
    let with_params = app
        .get(&format!(
            "/schemas/ids/{id1}?subject=orders-value&format=serialized&fetchMaxId=false"
        ))
        .await;
    assert_eq!(expect_json(with_params, StatusCode::OK).await, by_id);

    let lookup = app
        .post(
            "/subjects/orders-value?normalize=False&deleted=False",
            &json!({ "schema": v2 }),
        )
        .await;
    assert_eq!(expect_json(lookup, StatusCode::OK).await, latest);
}

#[tokio::test]
async fn lookup_distinguishes_unknown_subject_and_unknown_schema() {
    let app = spawn_app().await;
    app.register_ok("orders-value", &probe(&[ID])).await;

    let unknown_schema = app
        .post(
            "/subjects/orders-value",
            &json!({ "schema": probe(&[ID, QTY]) }),
        )
        .await;
    expect_error(unknown_schema, StatusCode::NOT_FOUND, 40403).await;
    let unknown_subject = app
        .post("/subjects/nope", &json!({ "schema": probe(&[ID]) }))
        .await;
    let message = expect_error(unknown_subject, StatusCode::NOT_FOUND, 40401).await;
    assert_eq!(message, "Subject 'nope' not found.");
}

#[tokio::test]
async fn soft_and_permanent_version_deletes() {
    let app = spawn_app().await;
    let id1 = app.register_ok("orders-value", &probe(&[ID])).await;
    app.register_ok("orders-value", &probe(&[ID, QTY_DEFAULT]))
        .await;

    // Hard-deleting a live version is refused, like Confluent.
    let early = app
        .delete("/subjects/orders-value/versions/1?permanent=true")
        .await;
    expect_error(early, StatusCode::NOT_FOUND, 40407).await;

    let deleted = expect_json(
        app.delete("/subjects/orders-value/versions/1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deleted, json!(1));
    expect_error(
        app.get("/subjects/orders-value/versions/1").await,
        StatusCode::NOT_FOUND,
        40402,
    )
    .await;
    let again = app.delete("/subjects/orders-value/versions/1").await;
    expect_error(again, StatusCode::NOT_FOUND, 40406).await;
    let versions = expect_json(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, json!([2]));
    let with_deleted = app
        .get("/subjects/orders-value/versions?deleted=true")
        .await;
    assert_eq!(
        expect_json(with_deleted, StatusCode::OK).await,
        json!([1, 2])
    );
    let soft_deleted = app
        .get("/subjects/orders-value/versions/1?deleted=true")
        .await;
    assert_eq!(
        expect_json(soft_deleted, StatusCode::OK).await["id"],
        json!(id1)
    );

    let purged = app
        .delete("/subjects/orders-value/versions/1?permanent=true")
        .await;
    assert_eq!(expect_json(purged, StatusCode::OK).await, json!(1));
    let gone = app
        .get("/subjects/orders-value/versions/1?deleted=true")
        .await;
    expect_error(gone, StatusCode::NOT_FOUND, 40402).await;
    // Ids stay resolvable: consumers may still hold messages written with them.
    expect_json(
        app.get(&format!("/schemas/ids/{id1}")).await,
        StatusCode::OK,
    )
    .await;

    let latest = expect_json(
        app.delete("/subjects/orders-value/versions/latest").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest, json!(2));
    expect_error(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
}

#[tokio::test]
async fn version_numbers_are_not_reused_after_a_soft_delete() {
    let app = spawn_app().await;
    let schema = probe(&[ID]);
    let id = app.register_ok("orders-value", &schema).await;
    app.delete("/subjects/orders-value/versions/1").await;

    // Re-registering a soft-deleted schema makes a new version with the same id.
    assert_eq!(app.register_ok("orders-value", &schema).await, id);
    let versions = expect_json(
        app.get("/subjects/orders-value/versions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, json!([2]));
}

#[tokio::test]
async fn subject_deletes() {
    let app = spawn_app().await;
    app.register_ok("orders-value", &probe(&[ID])).await;
    app.register_ok("orders-value", &probe(&[ID, QTY_DEFAULT]))
        .await;
    app.register_ok("other-value", &probe(&[ID])).await;

    expect_error(
        app.delete("/subjects/orders-value?permanent=true").await,
        StatusCode::NOT_FOUND,
        40405,
    )
    .await;
    let deleted = expect_json(app.delete("/subjects/orders-value").await, StatusCode::OK).await;
    assert_eq!(deleted, json!([1, 2]));
    expect_error(
        app.delete("/subjects/orders-value").await,
        StatusCode::NOT_FOUND,
        40404,
    )
    .await;

    assert_eq!(
        expect_json(app.get("/subjects").await, StatusCode::OK).await,
        json!(["other-value"])
    );
    let all = expect_json(app.get("/subjects?deleted=true").await, StatusCode::OK).await;
    assert_eq!(all, json!(["orders-value", "other-value"]));
    let prefixed = expect_json(app.get("/subjects?subjectPrefix=oth").await, StatusCode::OK).await;
    assert_eq!(prefixed, json!(["other-value"]));

    let purged = expect_json(
        app.delete("/subjects/orders-value?permanent=true").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(purged, json!([1, 2]));
    expect_error(
        app.delete("/subjects/orders-value").await,
        StatusCode::NOT_FOUND,
        40401,
    )
    .await;
}

#[tokio::test]
async fn subjects_with_reserved_characters_round_trip() {
    let app = spawn_app().await;
    // Confluent's clients percent-encode the whole subject, including '/'.
    let id = app.register_ok("team%2Forders%20v1", &probe(&[ID])).await;
    let subjects = expect_json(app.get("/subjects").await, StatusCode::OK).await;
    assert_eq!(subjects, json!(["team/orders v1"]));
    let latest = app
        .get("/subjects/team%2Forders%20v1/versions/latest")
        .await;
    assert_eq!(expect_json(latest, StatusCode::OK).await["id"], json!(id));
}
