//! `spawn_stack()`: a command service with fulfilment on and a fulfilment service, both on
//! port 0 over fresh topics, a fresh database, stripe-mock behind the test's fault proxy,
//! and helpers that read as the steps of a test.

use orderflow_auth::Role;
use orderflow_fulfilment_model::{StockLevel, stock_level};
use orderflow_testkit::stripe::{Call, FaultProxy, StripeMock};
use orderflow_testkit::{Registry, TestIssuer, eventually, fresh_database};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

pub fn brokers() -> String {
    std::env::var("ORDERFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A service running in the test's runtime, stopped when dropped.
pub struct Service {
    pub address: String,
    _stop: oneshot::Sender<()>,
}

/// The stack of one test.
pub struct Stack {
    pub orders_topic: String,
    pub inventory_topic: String,
    pub payments_topic: String,
    pub database_url: String,
    pub command: Service,
    pub fulfilment: Option<Service>,
    pub proxy: FaultProxy,
    pub http: reqwest::Client,
    pub token_file: std::path::PathBuf,
    _stripe: StripeMock,
}

/// A stack with the fulfilment service started; `None` (the test skips) outside CI when
/// stripe-mock is not installed.
pub async fn spawn_stack() -> Option<Stack> {
    let stack = spawn_without_fulfilment().await?;
    Some(stack.with_fulfilment(settings_hook).await)
}

fn settings_hook(_: &mut orderflow_fulfilment::Settings) {}

/// The stack before its fulfilment service starts.
pub async fn spawn_without_fulfilment() -> Option<Stack> {
    orderflow_platform::init_tracing();
    let stripe = StripeMock::start().await?;
    let proxy = FaultProxy::start(&stripe.url).await;
    let id = Uuid::new_v4().simple().to_string();
    let orders_topic = format!("orders.events.test-{id}");
    let mut settings =
        orderflow_command_service::Settings::for_stack(&brokers(), &registry(), &orders_topic);
    settings.auth = issuer().settings();
    settings.fulfilment = true;
    let command = start(|listener, stopped| {
        tokio::spawn(orderflow_command_service::run(settings, listener, stopped));
    })
    .await;
    let token_file = std::env::temp_dir().join(format!("orderflow-fulfilment-token-{id}"));
    std::fs::write(
        &token_file,
        issuer().token("fulfilment", &[Role::Fulfilment]),
    )
    .unwrap();
    let stack = Stack {
        inventory_topic: format!("inventory.events.test-{id}"),
        payments_topic: format!("payments.events.test-{id}"),
        orders_topic,
        database_url: fresh_database("ff_test").await,
        command,
        fulfilment: None,
        proxy,
        http: reqwest::Client::new(),
        token_file,
        _stripe: stripe,
    };
    stack.wait_ready(&stack.command.address).await;
    Some(stack)
}

fn registry() -> String {
    Registry::shared().url.clone()
}

pub fn issuer() -> &'static TestIssuer {
    TestIssuer::shared()
}

async fn start(
    spawn: impl FnOnce(TcpListener, std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
) -> Service {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    spawn(
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    );
    Service {
        address,
        _stop: stop,
    }
}

impl Stack {
    /// The fulfilment settings of this stack, as `adjust` changes them.
    pub fn fulfilment_settings(
        &self,
        adjust: impl FnOnce(&mut orderflow_fulfilment::Settings),
    ) -> orderflow_fulfilment::Settings {
        let mut settings =
            orderflow_fulfilment::Settings::for_stack(&brokers(), &registry(), &self.database_url);
        settings.orders_topic = self.orders_topic.clone();
        settings.inventory_topic = self.inventory_topic.clone();
        settings.payments_topic = self.payments_topic.clone();
        settings.command_url = self.command.address.clone();
        settings.token_file = Some(self.token_file.clone());
        settings.stripe_url = self.proxy.url.clone();
        settings.auth = issuer().settings();
        settings.call_timeout_ms = 1_000;
        adjust(&mut settings);
        settings
    }

    /// Starts (or restarts) the fulfilment service in the test's runtime.
    pub async fn with_fulfilment(
        mut self,
        adjust: impl FnOnce(&mut orderflow_fulfilment::Settings),
    ) -> Stack {
        self.fulfilment = None;
        let settings = self.fulfilment_settings(adjust);
        let service = start(|listener, stopped| {
            tokio::spawn(orderflow_fulfilment::run(settings, listener, stopped));
        })
        .await;
        self.wait_ready(&service.address).await;
        self.fulfilment = Some(service);
        self
    }

    pub async fn wait_ready(&self, address: &str) {
        let url = format!("{address}/readyz");
        eventually(Duration::from_secs(60), &url, || async {
            let r = self.http.get(&url).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        })
        .await;
    }

    /// Operators receive `quantity` units of `product`.
    pub async fn receive(&self, product: &str, quantity: u32) -> reqwest::Response {
        let service = self.fulfilment.as_ref().expect("fulfilment runs");
        self.receive_at(&service.address, product, quantity).await
    }

    /// Operators receive stock through the fulfilment service at `address`.
    pub async fn receive_at(&self, address: &str, product: &str, quantity: u32) -> Response {
        self.http
            .post(format!("{address}/stock/{product}/receipts"))
            .bearer_auth(issuer().operator())
            .json(&json!({ "quantity": quantity }))
            .send()
            .await
            .unwrap()
    }

    /// Places `order_id` for `items` (product, quantity) at 10.00 each, paid with
    /// `payment_method`; the answer of the command service.
    pub async fn place(
        &self,
        order_id: &str,
        items: &[(&str, u32)],
        payment_method: &str,
    ) -> Response {
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({"product_id": p, "quantity": q, "unit_price": "10.00"}))
            .collect();
        let body = json!({"order_id": order_id, "customer_id": "cust-1", "currency": "EUR",
            "shipping_address": "1 Main St", "items": items, "payment_method": payment_method});
        self.command_post("/orders", &body).await
    }

    /// POSTs to the command service as an operator.
    pub async fn command_post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.command.address))
            .bearer_auth(issuer().operator())
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The order's status as the command service has it.
    pub async fn status(&self, order_id: &str) -> String {
        let r = self
            .http
            .get(format!("{}/orders/{order_id}", self.command.address))
            .bearer_auth(issuer().operator())
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the order is `status`.
    pub async fn wait_for(&self, order_id: &str, status: &str) {
        let what = format!("order {order_id} to be {status}");
        eventually(Duration::from_secs(30), &what, || async {
            (self.status(order_id).await == status).then_some(())
        })
        .await;
    }

    /// Waits until the read model shows `product` at `(on_hand, reserved)`.
    pub async fn wait_for_stock(&self, product: &str, on_hand: i64, reserved: i64) -> StockLevel {
        let pool = sqlx::PgPool::connect(&self.database_url).await.unwrap();
        let what = format!("{product} at {on_hand} on hand, {reserved} reserved");
        eventually(Duration::from_secs(30), &what, || async {
            let level = stock_level(&pool, product).await.ok()??;
            (level.on_hand == on_hand && level.reserved == reserved).then_some(level)
        })
        .await
    }

    /// The processor calls made for `order_id`'s saga, as the proxy saw them.
    pub fn payment_calls(&self, order_id: &str) -> Vec<Call> {
        let prefix = format!("orderflow-{order_id}-");
        self.proxy
            .calls()
            .into_iter()
            .filter(|c| {
                c.idempotency_key
                    .as_deref()
                    .is_some_and(|k| k.starts_with(&prefix))
            })
            .collect()
    }

    /// The processor calls of `order_id`'s saga, as `(path's last segment, key suffix)`.
    pub fn payment_steps(&self, order_id: &str) -> Vec<String> {
        let prefix = format!("orderflow-{order_id}-");
        self.payment_calls(order_id)
            .iter()
            .filter(|c| c.status < 300)
            .map(|c| c.idempotency_key.as_deref().unwrap_or_default()[prefix.len()..].to_owned())
            .collect()
    }
}

/// A new order id.
pub fn order_id() -> String {
    format!("ord-{}", Uuid::new_v4().simple())
}

/// A new product id.
pub fn product() -> String {
    format!("sku-{}", &Uuid::new_v4().simple().to_string()[..12])
}
