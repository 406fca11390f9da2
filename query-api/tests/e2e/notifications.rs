//! Notifications over the whole stack: subscriptions made through the query API under its
//! rules, the notifier telling a real webhook receiver about each status change of an
//! order moved through the command API, and what was sent listed for the customer and the
//! operators.

use crate::stack::{Stack, as_caller};
use orderflow_testkit::{TestIssuer, WebhookReceiver, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A stack, a customer of the test's own and the callers' tokens.
struct World {
    stack: Stack,
    customer: String,
    own: String,
    other: String,
    operator: String,
    client: reqwest::Client,
}

impl World {
    async fn start() -> World {
        let issuer = TestIssuer::shared();
        let customer = format!("c-{}", Uuid::new_v4().simple());
        World {
            stack: Stack::start().await,
            own: issuer.customer(&customer),
            other: issuer.customer("mallory"),
            operator: issuer.operator(),
            customer,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.queries_url())
    }

    async fn post(&self, path: &str, body: &Value, token: &str) -> (StatusCode, Value) {
        as_caller(self.client.post(self.url(path)).json(body), token).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        as_caller(self.client.get(self.url(path)), token).await
    }

    async fn delete(&self, path: &str, token: &str) -> StatusCode {
        as_caller(self.client.delete(self.url(path)), token).await.0
    }

    /// Places an order for the customer and moves it from placed to delivered.
    async fn deliver_an_order(&self) {
        let order = json!({"customer_id": self.customer, "shipping_address": "1 Main St",
            "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}]});
        let placed = self.stack.command("/orders", &order).await;
        let id = placed["order_id"].as_str().unwrap();
        let steps = [
            ("pack", json!({"warehouse": "wh-1"})),
            ("ship", json!({"carrier": "UPS", "tracking_number": "1Z"})),
            ("deliver", json!({})),
        ];
        for (step, body) in steps {
            self.stack
                .command(&format!("/orders/{id}/{step}"), &body)
                .await;
        }
    }
}

#[tokio::test]
async fn subscriptions_follow_the_read_sides_rules_and_secrets_show_once() {
    let w = World::start().await;
    let hook =
        json!({"channel": "webhook", "customer_id": w.customer, "url": "http://127.0.0.1:9/h"});
    let (status, _) = w.post("/subscriptions", &hook, &w.own).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "customers do not create webhooks"
    );
    let (status, webhook) = w.post("/subscriptions", &hook, &w.operator).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    assert_eq!(webhook["secret"].as_str().map(str::len), Some(64));
    let email = json!({"channel": "email", "address": "alice@example.com"});
    let (status, mail) = w.post("/subscriptions", &email, &w.own).await;
    assert_eq!(
        (status, mail["customer_id"].as_str()),
        (StatusCode::CREATED, Some(w.customer.as_str()))
    );
    assert!(mail.get("secret").is_none());
    let (status, again) = w.post("/subscriptions", &email, &w.own).await;
    assert_eq!(
        (status, &again["subscription"]),
        (StatusCode::CONFLICT, &mail["id"]),
        "{again}"
    );

    // A customer sees and manages its own email only: the webhook for its orders is the
    // operators'. Another customer finds nothing.
    let (_, listed) = w.get("/subscriptions", &w.own).await;
    assert_eq!(listed["subscriptions"], json!([mail.clone()]), "{listed}");
    let (hook_path, mail_path) = (
        format!("/subscriptions/{}", webhook["id"].as_str().unwrap()),
        format!("/subscriptions/{}", mail["id"].as_str().unwrap()),
    );
    assert_eq!(w.delete(&hook_path, &w.own).await, StatusCode::NOT_FOUND);
    assert_eq!(w.delete(&mail_path, &w.other).await, StatusCode::NOT_FOUND);
    assert_eq!(w.delete(&mail_path, &w.own).await, StatusCode::NO_CONTENT);
    let (_, listed) = w.get("/subscriptions", &w.operator).await;
    let listed = listed["subscriptions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are never listed"
    );
}

#[tokio::test]
async fn subscribers_hear_of_every_status_change_and_each_caller_lists_what_it_may() {
    let w = World::start().await;
    let receiver = WebhookReceiver::start(0).await;
    let hook = json!({"channel": "webhook", "customer_id": w.customer, "url": receiver.url});
    let (_, webhook) = w.post("/subscriptions", &hook, &w.operator).await;
    let email = json!({"channel": "email", "address": "alice@example.com"});
    let (_, mail) = w.post("/subscriptions", &email, &w.own).await;

    w.deliver_an_order().await;

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
    // Operators see every delivery: the webhook's made, the email's failed attempts (no
    // SMTP server listens in this stack) on record with the error.
    let path = format!("/notices?customer_id={}", w.customer);
    let notices = eventually(Duration::from_secs(30), "the notices settled", || async {
        let (_, page) = w.get(&path, &w.operator).await;
        let notices = page["notices"].as_array()?.clone();
        let done = notices.len() == 4 && notices.iter().all(|n| settled(n, &webhook, &mail));
        done.then_some(notices)
    })
    .await;
    assert_eq!(notices[0]["status"], "delivered", "newest first");
    // The customer sees its notices with what went to its own email only.
    let (_, page) = w.get("/notices", &w.own).await;
    let notices = page["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 4, "{page}");
    for notice in notices {
        let channels: Vec<&Value> = notice["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["channel"])
            .collect();
        assert_eq!(channels, [&json!("email")], "{notice}");
    }
    let (_, theirs) = w.get("/notices", &w.other).await;
    assert_eq!(theirs["notices"], json!([]));
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
