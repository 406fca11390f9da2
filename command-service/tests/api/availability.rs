//! Dependencies that are down: 503 with Retry-After, and recovery without a restart.

use crate::helpers::{Registry, TestApp, expect_json, order_body, spawn_with};
use orderflow_command_service::Settings;
use orderflow_testkit::registry::free_port;
use reqwest::StatusCode;
use uuid::Uuid;

async fn expect_unavailable(app: &TestApp) {
    let response = app.place(&order_body(None)).await;
    assert_eq!(response.headers()["retry-after"], "1");
    expect_json(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_a_registry_commands_get_503_until_it_comes_up() {
    let port = free_port();
    let topic = format!("orders.events.test-{}", Uuid::new_v4().simple());
    let url = format!("http://127.0.0.1:{port}/apis/ccompat/v7");
    let settings = crate::helpers::settings(&url, &topic);
    let mut app = spawn_with(settings, Registry::shared()).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    expect_unavailable(&app).await;

    // The registry comes up on the configured port: the service recovers by itself.
    app.registry = Registry::start_own(port).await;
    app.wait_ready().await;
    expect_json(app.place(&order_body(None)).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn without_a_broker_commands_get_503_with_retry_after() {
    let registry = Registry::shared();
    let mut settings = Settings::for_stack(
        &format!("127.0.0.1:{}", free_port()),
        &registry.url,
        "orders.events.nowhere",
    );
    settings.command_timeout_ms = 1000;
    settings.auth = crate::helpers::issuer().settings();
    let app = spawn_with(settings, registry).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    expect_unavailable(&app).await;
}

#[tokio::test]
async fn a_registry_outage_after_start_up_does_not_stop_commands() {
    let registry = Registry::start_own(0).await;
    let topic = format!("orders.events.test-{}", Uuid::new_v4().simple());
    let settings = crate::helpers::settings(&registry.url, &topic);
    let mut app = spawn_with(settings, registry).await;
    app.wait_ready().await;
    let id = app.place_ok().await;
    // Every schema the service writes and reads back was cached at start-up.
    app.registry.stop();
    let packed = app
        .post(
            &format!("/orders/{id}/pack"),
            &serde_json::json!({"warehouse": "w"}),
            &[],
        )
        .await;
    assert_eq!(expect_json(packed, StatusCode::OK).await["version"], 2);
    expect_json(app.place(&order_body(None)).await, StatusCode::CREATED).await;
}
