//! The process manager killed with SIGKILL between steps: after a restart every saga ends
//! consistent, with one reservation per line and one authorization and one capture per
//! order in the logs, whatever the calls the crash made the saga repeat.

use crate::support::{Stack, issuer, order_id, product, spawn_without_fulfilment};
use orderflow_testkit::registry::free_port;
use orderflow_testkit::stripe::Fault;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The fulfilment binary on `stack`'s topics, database, command service and proxy.
fn spawn_binary(stack: &Stack, port: u16) -> Child {
    let settings = stack.fulfilment_settings(|_| {});
    let jwks = issuer().settings().jwks;
    Command::new(env!("CARGO_BIN_EXE_fulfilment"))
        .env("ORDERFLOW_FULFILMENT_LISTEN", format!("127.0.0.1:{port}"))
        .env("ORDERFLOW_KAFKA_BROKERS", crate::support::brokers())
        .env("ORDERFLOW_TOPIC", &settings.orders_topic)
        .env("ORDERFLOW_INVENTORY_TOPIC", &settings.inventory_topic)
        .env("ORDERFLOW_PAYMENTS_TOPIC", &settings.payments_topic)
        .env("ORDERFLOW_SCHEMA_REGISTRY_URL", &settings.registry.url)
        .env("ORDERFLOW_FULFILMENT_DATABASE_URL", &settings.database_url)
        .env("ORDERFLOW_COMMAND_URL", &settings.command_url)
        .env("ORDERFLOW_FULFILMENT_TOKEN_FILE", &stack.token_file)
        .env("ORDERFLOW_STRIPE_URL", &settings.stripe_url)
        .env("ORDERFLOW_FULFILMENT_CALL_TIMEOUT_MS", "3000")
        .env("ORDERFLOW_AUTH_JWKS", jwks)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the fulfilment binary starts")
}

#[tokio::test]
async fn a_process_manager_killed_between_steps_resumes_every_saga_with_one_effect_per_step() {
    let Some(stack) = spawn_without_fulfilment().await else {
        return;
    };
    let (a, b) = (product(), product());
    let orders: Vec<String> = (0..8).map(|_| order_id()).collect();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let mut first = spawn_binary(&stack, port);
    stack.wait_ready(&address).await;
    // Every processor call takes a while: the kill finds sagas between reserving and
    // authorizing, and authorizations Stripe took but whose answers never arrived.
    stack
        .proxy
        .set(Fault::SlowAnswer(Duration::from_millis(700)));
    for sku in [&a, &b] {
        assert!(
            stack
                .receive_at(&address, sku, 100)
                .await
                .status()
                .is_success()
        );
    }
    for order in &orders {
        assert_eq!(
            stack
                .place(order, &[(&a, 2), (&b, 1)], "pm_card_visa")
                .await
                .status(),
            201
        );
    }
    stack.wait_for_stock(&a, 100, 16).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let pending = stack.count_status(&orders, "pending").await;
    assert!(pending > 0, "the kill came after every saga had finished");

    stack.proxy.set(Fault::None);
    let mut second = spawn_binary(&stack, port);
    for order in &orders {
        stack.wait_for(order, "confirmed").await;
        let ship = json!({"carrier": "DHL", "tracking_number": "T"});
        stack
            .command_post(&format!("/orders/{order}/pack"), &json!({"warehouse": "w"}))
            .await;
        stack
            .command_post(&format!("/orders/{order}/ship"), &ship)
            .await;
    }
    stack.wait_for_stock(&a, 84, 0).await;
    stack.wait_for_stock(&b, 92, 0).await;
    let effects = stack.payment_effects().await;
    second.kill().unwrap();
    second.wait().unwrap();
    for order in &orders {
        let changes: Vec<&str> = effects
            .iter()
            .filter(|(o, _)| o == order)
            .map(|(_, c)| c.as_str())
            .collect();
        assert_eq!(changes, ["requested", "authorized", "captured"], "{order}");
        let keys = stack.payment_keys(order);
        assert_eq!(
            keys,
            [
                format!("orderflow-{order}-authorize"),
                format!("orderflow-{order}-capture")
            ]
        );
    }
    let inventory = stack.reservations().await;
    assert_eq!(
        inventory.len(),
        orders.len() * 2,
        "one reservation per line: {inventory:?}"
    );
}
