//! `spawn_projector()` and friends: a projector over a fresh topic, a fresh Postgres
//! database and a unique Redis key prefix, on the stack's registry.

pub use crate::fixtures::*;
pub use crate::wire::{RawRecord, read_topic};

use orderflow_domain::Event;
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic, partition_for_key};
use orderflow_projector::{Settings, run};
use orderflow_schemas::{EventCodec, RegistrySettings};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Partitions of every test topic.
pub const PARTITIONS: i32 = 3;

pub fn brokers() -> String {
    std::env::var("ORDERFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub fn redis_url() -> String {
    std::env::var("ORDERFLOW_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub use orderflow_testkit::fresh_database;

pub use orderflow_testkit::Registry;

/// The stack of one test: topic, registry, read-model database, Redis prefix, producer.
pub struct Stack {
    pub topic: String,
    pub registry: Registry,
    pub database_url: String,
    pub db: PgPool,
    pub redis_prefix: String,
    pub codec: EventCodec,
    producer: FutureProducer,
    /// Next offset of each partition after everything produced so far.
    produced: BTreeMap<i32, i64>,
}

impl Stack {
    pub async fn start() -> Stack {
        orderflow_platform::init_tracing();
        let registry = Registry::shared();
        let topic = format!("orders.events.pj-{}", Uuid::new_v4().simple());
        create_topic(&topic).await;
        let database_url = fresh_database("pj_test").await;
        // What readers see: the views over the live generation.
        let db = PgPoolOptions::new()
            .connect_with(
                PgConnectOptions::from_str(&database_url)
                    .unwrap()
                    .options([("search_path", "orderflow_read")]),
            )
            .await
            .unwrap();
        let codec = EventCodec::new(
            &RegistrySettings {
                url: registry.url.clone(),
                timeout: Duration::from_secs(5),
                basic_auth: registry.auth.clone(),
            },
            &topic,
        )
        .unwrap();
        // As the services do, a registry that is busy for a moment is asked again.
        let mut attempts = 0;
        while let Err(e) = codec.register_all().await {
            attempts += 1;
            assert!(
                e.is_transient() && attempts < 10,
                "registering the schemas: {e}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let producer = KafkaSettings::new(brokers())
            .client_config(&[("enable.idempotence", "true"), ("linger.ms", "5")])
            .create()
            .unwrap();
        Stack {
            redis_prefix: format!("pjtest:{}:", Uuid::new_v4().simple()),
            topic,
            registry,
            database_url,
            db,
            codec,
            producer,
            produced: BTreeMap::new(),
        }
    }

    /// Projector settings for this stack, with a group of its own.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::for_stack(
            &brokers(),
            &self.registry.url,
            &self.topic,
            &self.database_url,
            &redis_url(),
        );
        s.log = log_settings(&self.topic);
        s.group = format!("pj-{}", Uuid::new_v4().simple());
        s.redis_prefix = self.redis_prefix.clone();
        s
    }

    /// Appends events, in order, keyed and partitioned by order id.
    pub async fn append(&mut self, events: &[Event]) {
        for event in events {
            let bytes = self.codec.encode(event).await.unwrap();
            self.produce(event.order_id.as_bytes(), &bytes).await;
        }
    }

    /// Appends raw bytes under `key`.
    pub async fn produce(&mut self, key: &[u8], value: &[u8]) -> (i32, i64) {
        let partition = partition_for_key(key, PARTITIONS);
        let record = FutureRecord::to(&self.topic)
            .key(key)
            .payload(value)
            .partition(partition);
        let (partition, offset) = self
            .producer
            .send(record, Duration::from_secs(10))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| e)
            .unwrap();
        self.produced.insert(partition, offset + 1);
        (partition, offset)
    }

    /// Waits until the stored offsets cover everything appended so far.
    pub async fn wait_projected(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stored = self.stored_offsets().await;
            if self
                .produced
                .iter()
                .all(|(p, n)| stored.get(p).is_some_and(|s| s >= n))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not projected in time: stored {stored:?}, produced {:?}",
                self.produced
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running projector.
pub struct TestProjector {
    pub address: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts a projector with `settings`.
pub async fn spawn_projector(settings: Settings) -> TestProjector {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(settings, listener, async {
        let _ = stopped.await;
    }));
    TestProjector {
        address,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestProjector {
    /// Waits until `/readyz` says ready.
    pub async fn wait_ready(&self) {
        for _ in 0..300 {
            if self.status().await["ready"] == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("projector did not become ready");
    }

    /// `/readyz`'s body (counters included).
    pub async fn status(&self) -> Value {
        reqwest::get(format!("{}/readyz", self.address))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits for `run` to end on its own (a refused log), and returns what it returned.
    pub async fn exited(mut self) -> std::io::Result<()> {
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the projector did not exit in time")
            .expect("the projector task panicked")
    }

    /// Stops gracefully.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
        }
    }
}

impl Drop for TestProjector {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The log settings of a test topic.
pub fn log_settings(topic: &str) -> LogSettings {
    LogSettings {
        partitions: PARTITIONS,
        ..LogSettings::new(topic)
    }
}

async fn create_topic(topic: &str) {
    let kafka = KafkaSettings::new(brokers());
    ensure_topic(&kafka, &log_settings(topic)).await.unwrap();
}

/// Polls `condition` every 50 ms until it holds; fails naming `what` after `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
