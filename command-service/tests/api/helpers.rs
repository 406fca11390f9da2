//! `spawn_app()` and friends: a command service on port 0 over a fresh topic, on the
//! stack's registry (or one of the test's own).

use orderflow_command_service::{Settings, run};
use orderflow_domain::Event;
use orderflow_platform::ReadToEnd;
use orderflow_schemas::{EventCodec, RegistrySettings};
use rdkafka::{ClientConfig, Message};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Partitions of the topics the command service creates (its default).
pub const PARTITIONS: i32 = 6;

pub fn brokers() -> String {
    std::env::var("ORDERFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub use orderflow_testkit::{Registry, TestIssuer};

/// A running command service.
pub struct TestApp {
    pub address: String,
    pub topic: String,
    pub registry: Registry,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A command service over a fresh topic and a fresh registry, ready for commands.
pub async fn spawn_app() -> TestApp {
    let registry = Registry::shared();
    let topic = format!("orders.events.test-{}", Uuid::new_v4().simple());
    let app = spawn_on(&topic, registry).await;
    app.wait_ready().await;
    app
}

/// A command service for `topic` and `registry`, not waited for.
pub async fn spawn_on(topic: &str, registry: Registry) -> TestApp {
    spawn_with(settings(&registry.url, topic), registry).await
}

/// A command service that takes at most `max_locations` location updates per order.
pub async fn spawn_with_location_cap(max_locations: u32) -> TestApp {
    let registry = Registry::shared();
    let topic = format!("orders.events.test-{}", Uuid::new_v4().simple());
    let mut settings = settings(&registry.url, &topic);
    settings.max_locations_per_order = max_locations;
    let app = spawn_with(settings, registry).await;
    app.wait_ready().await;
    app
}

/// The settings of a command service on the stack for `topic`, trusting [`issuer`].
pub fn settings(registry_url: &str, topic: &str) -> Settings {
    let mut settings = Settings::for_stack(&brokers(), registry_url, topic);
    settings.auth = issuer().settings();
    settings
}

/// The issuer of the tokens of this test process: every service a test starts trusts it.
pub fn issuer() -> &'static TestIssuer {
    TestIssuer::shared()
}

pub async fn spawn_with(settings: Settings, registry: Registry) -> TestApp {
    orderflow_platform::init_tracing();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let topic = settings.log.topic.clone();
    let task = tokio::spawn(run(settings, listener, async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        topic,
        registry,
        client: issuer().operator_client(),
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Waits until `/readyz` says ready.
    pub async fn wait_ready(&self) {
        for _ in 0..300 {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("command service at {} did not become ready", self.address);
    }

    /// Stops this instance and starts a new one on the same topic and registry.
    pub async fn restart(self) -> TestApp {
        let app = self.restart_unwaited().await;
        app.wait_ready().await;
        app
    }

    /// Like [`TestApp::restart`], without waiting for the new instance to be ready.
    pub async fn restart_unwaited(mut self) -> TestApp {
        self.shutdown().await;
        let registry = std::mem::replace(&mut self.registry, Registry::shared());
        spawn_on(&self.topic, registry).await
    }

    /// Another instance of this one's group: the two share the partitions (ADR 0015).
    pub async fn second_instance(&self) -> TestApp {
        let app = spawn_with(
            settings(&self.registry.url, &self.topic),
            Registry::shared(),
        )
        .await;
        app.wait_ready().await;
        app
    }

    /// Another instance on the same log outside this one's group: a zombie (an instance
    /// cut off from the group's coordinator) that believes it owns every partition too,
    /// so the two write the same partitions and the log must settle it.
    pub async fn zombie_instance(&self) -> TestApp {
        let mut zombie = settings(&self.registry.url, &self.topic);
        zombie.group = Some(format!("zombie-{}", uuid::Uuid::new_v4().simple()));
        let app = spawn_with(zombie, Registry::shared()).await;
        app.wait_ready().await;
        app
    }

    /// Waits for `run` to end on its own (a refused log), and returns what it returned.
    pub async fn exited(mut self) -> std::io::Result<()> {
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the command service did not exit in time")
            .expect("the command service task panicked")
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The issuer whose tokens this service trusts.
    pub fn issuer(&self) -> &'static TestIssuer {
        issuer()
    }

    /// Every kind of caller of the auth matrix, with its token, for orders of `owner`.
    pub fn callers(&self, owner: &str) -> Vec<(&'static str, Option<String>)> {
        issuer().callers(owner)
    }

    /// POSTs JSON with extra headers.
    pub async fn post(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.unwrap()
    }

    pub async fn place(&self, body: &Value) -> Response {
        self.post("/orders", body, &[]).await
    }

    /// Places a valid order and returns its id.
    pub async fn place_ok(&self) -> String {
        let response = self.place(&order_body(None)).await;
        let body = expect_json(response, StatusCode::CREATED).await;
        body["order_id"].as_str().unwrap().to_owned()
    }

    /// `GET /orders/{id}`: the aggregate as the service holds it (200 expected).
    pub async fn inspect(&self, id: &str) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/orders/{id}")))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await
    }

    /// Places an order and moves it through `steps` (e.g. `["pack", "ship"]`).
    pub async fn order_at(&self, steps: &[&str]) -> String {
        let id = self.place_ok().await;
        for step in steps {
            let (path, body) = step_request(step);
            let r = self.post(&format!("/orders/{id}/{path}"), &body, &[]).await;
            expect_json(r, StatusCode::OK).await;
        }
        id
    }

    /// Every record of the topic, decoded with the project's codec.
    pub async fn log(&self) -> Vec<LogRecord> {
        read_log(&self.topic, &self.registry.url).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The request for a lifecycle step.
pub fn step_request(step: &str) -> (&'static str, Value) {
    match step {
        "pack" => ("pack", json!({"warehouse": "AMS-1"})),
        "ship" => (
            "ship",
            json!({"carrier": "DHL", "tracking_number": "JD0123"}),
        ),
        "location" => ("location", json!({"location": "Utrecht hub"})),
        "deliver" => ("deliver", json!({})),
        "cancel" => ("cancel", json!({"reason": "customer request"})),
        other => panic!("unknown step {other}"),
    }
}

/// A valid `POST /orders` body.
pub fn order_body(order_id: Option<&str>) -> Value {
    let mut body = json!({
        "customer_id": "cust-42",
        "items": [
            {"product_id": "sku-1", "quantity": 2, "unit_price": "25.99"},
            {"product_id": "sku-2", "quantity": 1, "unit_price": "5.5"}
        ],
        "shipping_address": "1 Main St, Springfield"
    });
    if let Some(id) = order_id {
        body["order_id"] = json!(id);
    }
    body
}

/// Asserts the status and a JSON body (problem+json for errors); returns the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    let expected_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    assert_eq!(content_type.as_deref(), Some(expected_type), "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// One record of the topic.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub event: Event,
}

/// Reads every record of `topic` up to its current end.
pub async fn read_log(topic: &str, registry_url: &str) -> Vec<LogRecord> {
    let raw = read_raw(topic).await;
    let codec = EventCodec::new(
        &RegistrySettings {
            url: registry_url.to_owned(),
            timeout: Duration::from_secs(5),
            basic_auth: None,
        },
        topic,
    )
    .unwrap();
    let mut out = Vec::new();
    for (partition, offset, key, payload) in raw {
        let event = codec.decode(&payload).await.expect("every record decodes");
        out.push(LogRecord {
            partition,
            offset,
            key,
            event,
        });
    }
    out
}

/// `(partition, offset, key, value)` of every record of `topic`, read until every
/// partition reports its end.
pub async fn read_raw(topic: &str) -> Vec<(i32, i64, Vec<u8>, Vec<u8>)> {
    let kafka = orderflow_platform::KafkaSettings::new(brokers());
    let spans = orderflow_platform::whole_partitions(PARTITIONS);
    let group = [("group.id", "orderflow-tests")];
    let reader = ReadToEnd::open(&kafka, &group, topic, &spans, Duration::from_secs(30));
    let records = reader
        .unwrap()
        .collect()
        .await
        .expect("the topic read to its end");
    let mut out: Vec<_> = records
        .iter()
        .map(|m| {
            let key = m.key().unwrap_or_default().to_vec();
            (
                m.partition(),
                m.offset(),
                key,
                m.payload().unwrap_or_default().to_vec(),
            )
        })
        .collect();
    out.sort_by_key(|r| (r.0, r.1));
    let before = out.len();
    out.dedup_by_key(|r| (r.0, r.1));
    assert_eq!(out.len(), before, "no offset read twice");
    out
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
}

/// Appends `payload` under `key` in the key's partition, as a foreign producer would;
/// where it landed.
pub async fn append(topic: &str, key: &str, payload: &[u8]) -> (i32, i64) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let record = FutureRecord::to(topic).key(key).payload(payload).partition(
        orderflow_platform::partition_for_key(key.as_bytes(), PARTITIONS),
    );
    let delivered = producer.send(record, Duration::from_secs(5)).await;
    let delivered = delivered.map_err(|(e, _)| e).expect("appended");
    (delivered.partition, delivered.offset)
}
