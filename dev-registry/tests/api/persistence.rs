//! Behaviour that depends on Postgres: restarts, concurrency, where data is stored.

use std::collections::BTreeSet;

use axum::body::Body;
use http_body_util::BodyExt;
use orderflow_dev_registry::{AppState, Store, router};
use reqwest::StatusCode;
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::*;

#[tokio::test]
async fn ids_and_settings_survive_a_restart() {
    let mut app = spawn_app().await;
    let schema = probe(&[ID]);
    let id = app.register_ok("orders-value", &schema).await;
    app.set_level("orders-value", "FULL").await;
    let before = app.address.clone();

    app.restart().await;

    assert_ne!(app.address, before, "a new server on a new port");
    let by_id = expect_json(app.get(&format!("/schemas/ids/{id}")).await, StatusCode::OK).await;
    assert_eq!(by_id, json!({ "schema": schema }));
    assert_eq!(app.register_ok("orders-value", &schema).await, id);
    let level = expect_json(app.get("/config/orders-value").await, StatusCode::OK).await;
    assert_eq!(level, json!({ "compatibilityLevel": "FULL" }));
    // Ids keep counting from where they were rather than restarting at 1.
    let next = app.register_ok("other-value", &probe(&[ID, QTY])).await;
    assert!(next > id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_schema_yield_one_id_and_one_version() {
    let app = spawn_app().await;
    let schema = probe(&[ID, NOTE_DEFAULT]);
    let requests = (0..20).map(|i| {
        let client = app.client.clone();
        // Half the tasks use another subject, racing on the shared global id too.
        let subject = if i % 2 == 0 {
            "orders-value"
        } else {
            "audit-value"
        };
        let url = app.url(&format!("/subjects/{subject}/versions"));
        let body = json!({ "schema": schema }).to_string();
        tokio::spawn(async move {
            let response = client.post(url).body(body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        })
    });
    let mut ids = BTreeSet::new();
    for request in requests.collect::<Vec<_>>() {
        ids.insert(request.await.unwrap());
    }

    assert_eq!(ids.len(), 1, "{ids:?}");
    for subject in ["orders-value", "audit-value"] {
        let versions = expect_json(
            app.get(&format!("/subjects/{subject}/versions")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(versions, json!([1]), "{subject}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_registry.schemas")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn storage_stays_inside_the_schema_registry_schema() {
    let app = spawn_app().await;
    app.register_ok("orders-value", &probe(&[ID])).await;

    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1, 2",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let expected = [
        "_sqlx_migrations",
        "global_config",
        "schemas",
        "subject_config",
        "subject_versions",
    ];
    assert_eq!(
        tables,
        expected
            .iter()
            .map(|t| ("schema_registry".to_owned(), t.to_string()))
            .collect::<Vec<_>>(),
        "nothing may land in `public`, which the services' own migrations own"
    );
}

#[tokio::test]
async fn the_router_can_be_driven_without_a_socket() {
    let app = spawn_app().await;
    let store = Store::new(app.db.clone());
    // Idempotent: `run` already applied them.
    store.migrate().await.unwrap();
    let router = router(AppState::new(store));

    let request = axum::http::Request::post("/subjects/oneshot-value/versions")
        .body(Body::from(json!({ "schema": probe(&[ID]) }).to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"].clone();

    // The HTTP server shares the database, so it sees the same registration.
    let latest = app.get("/subjects/oneshot-value/versions/latest").await;
    assert_eq!(expect_json(latest, StatusCode::OK).await["id"], id);
}
