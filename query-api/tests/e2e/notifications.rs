//! Notifications over the whole stack: subscriptions made through the query API under its
//! rules, the notifier telling a real webhook receiver about each status change of an
//! order moved through the command API, and the customer listing what was sent.

use crate::stack::{Stack, as_caller};
use orderflow_testkit::{TestIssuer, WebhookReceiver};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Moves order `id` from placed to delivered.
async fn deliver(stack: &Stack, id: &str) {
    stack
        .command(&format!("/orders/{id}/pack"), &json!({"warehouse": "wh-1"}))
        .await;
    let ship = json!({"carrier": "UPS", "tracking_number": "1Z"});
    stack.command(&format!("/orders/{id}/ship"), &ship).await;
    stack
        .command(&format!("/orders/{id}/deliver"), &json!({}))
        .await;
}

/// Whether `notice`'s webhook delivery was made and its email's first attempt failed.
fn settled(notice: &Value, webhook: &Value, mail: &Value) -> bool {
    let deliveries = notice["deliveries"].as_array().unwrap();
    let to = |sub: &Value| {
        deliveries
            .iter()
            .find(|d| d["subscription_id"] == sub["id"])
    };
    let made = to(webhook).is_some_and(|d| d["state"] == "delivered");
    let failed = to(mail).is_some_and(|d| {
        let first = &d["history"][0];
        first["outcome"] != "delivered" && first["detail"].is_string()
    });
    made && failed
}

#[tokio::test]
async fn subscribers_hear_of_every_status_change_and_the_customer_lists_what_was_sent() {
    let stack = Stack::start().await;
    let issuer = TestIssuer::shared();
    let customer = format!("c-{}", Uuid::new_v4().simple());
    let (own, other, operator) = (
        issuer.customer(&customer),
        issuer.customer("mallory"),
        issuer.operator(),
    );
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", stack.queries_url());
    let receiver = WebhookReceiver::start(0).await;

    let hook = json!({"channel": "webhook", "customer_id": customer, "url": receiver.url});
    let (status, _) = as_caller(client.post(url("/subscriptions")).json(&hook), &own).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "customers do not create webhooks"
    );
    let (status, webhook) =
        as_caller(client.post(url("/subscriptions")).json(&hook), &operator).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    assert_eq!(webhook["secret"].as_str().map(str::len), Some(64));
    let email = json!({"channel": "email", "address": "alice@example.com"});
    let (status, mail) = as_caller(client.post(url("/subscriptions")).json(&email), &own).await;
    assert_eq!(
        (status, mail["customer_id"].as_str()),
        (StatusCode::CREATED, Some(customer.as_str()))
    );
    assert!(mail.get("secret").is_none());

    let order = json!({"customer_id": customer, "shipping_address": "1 Main St",
        "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}]});
    let id = stack.command("/orders", &order).await["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    deliver(&stack, &id).await;

    let start = Instant::now();
    while receiver.accepted().len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            receiver.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let types: Vec<Value> = receiver
        .accepted()
        .iter()
        .map(|b| b["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            "order.placed",
            "order.packed",
            "order.shipped",
            "order.delivered"
        ]
    );

    // The customer's list: every notice with the webhook's delivery made, and the email's
    // failed attempts (no SMTP server listens in this stack) on record with the error.
    let start = Instant::now();
    let notices = loop {
        let (status, page) = as_caller(client.get(url("/notices")), &own).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let notices = page["notices"].as_array().unwrap().clone();
        if notices.len() == 4 && notices.iter().all(|n| settled(n, &webhook, &mail)) {
            break notices;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(notices[0]["status"], "delivered", "newest first");
    let (_, theirs) = as_caller(client.get(url("/notices")), &other).await;
    assert_eq!(theirs["notices"], json!([]));

    let path = format!("/subscriptions/{}", mail["id"].as_str().unwrap());
    let (status, _) = as_caller(client.delete(url(&path)), &other).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer's subscription"
    );
    let (status, _) = as_caller(client.delete(url(&path)), &own).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = as_caller(client.get(url("/subscriptions")), &own).await;
    let listed: Vec<&Value> = listed["subscriptions"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 1, "the webhook for this customer is left");
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are never listed"
    );
}
