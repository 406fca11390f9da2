//! The notifier's test stack: a topic, an outbox database and topics of the test's own, on
//! the stack's broker, registry and Postgres; the notifier run in this process (or as its
//! binary, to be killed); events appended the way the command service writes them.

use futures::future::join_all;
use orderflow_domain::{Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp};
use orderflow_notifier::{Settings, signature};
use orderflow_outbox::{Channel, NewSubscription};
use orderflow_platform::{KafkaSettings, LogSettings, ensure_topic};
use orderflow_schemas::{EventCodec, RegistrySettings};
pub use orderflow_testkit::eventually;
use orderflow_testkit::{Registry, WebhookReceiver, fresh_database};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

pub fn brokers() -> String {
    std::env::var("ORDERFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub struct Harness {
    pub topic: String,
    /// The notifiers' consumer group: every notifier of the harness is a member.
    group: String,
    pub outbound_topic: String,
    pub dlq_topic: String,
    pub database_url: String,
    pub db: PgPool,
    registry: Registry,
    codec: EventCodec,
    producer: FutureProducer,
}

/// A notifier running in this process, stopped when dropped.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Harness {
    pub async fn new() -> Harness {
        orderflow_platform::init_tracing();
        let id = Uuid::new_v4().simple();
        let topic = format!("orders.events.test-nt-{id}");
        let kafka = KafkaSettings::new(brokers());
        ensure_topic(&kafka, &LogSettings::new(&topic))
            .await
            .unwrap();
        let registry = Registry::shared();
        let codec = EventCodec::new(
            &RegistrySettings {
                url: registry.url.clone(),
                timeout: Duration::from_secs(5),
                basic_auth: registry.auth.clone(),
            },
            &topic,
        )
        .unwrap();
        codec.register_all().await.unwrap();
        let database_url = fresh_database("nt_test").await;
        let db = PgPool::connect(&database_url).await.unwrap();
        let producer = kafka
            .client_config(&[("enable.idempotence", "true"), ("linger.ms", "5")])
            .create()
            .unwrap();
        Harness {
            group: format!("nt-{id}"),
            outbound_topic: format!("notifications.outbound.test-{id}"),
            dlq_topic: format!("notifications.dlq.test-{id}"),
            topic,
            database_url,
            db,
            registry,
            codec,
            producer,
        }
    }

    /// The notifier's settings for this stack, quick retries, plus `extra` flags.
    pub fn settings(&self, extra: &[&str]) -> Settings {
        let mut args = vec!["notifier".to_owned(), "--listen=127.0.0.1:0".to_owned()];
        args.extend(self.args());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        <Settings as clap::Parser>::parse_from(args)
    }

    /// The flags of [`Harness::settings`] but the address, for the binary too.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            ("--kafka-brokers", brokers()),
            ("--topic", self.topic.clone()),
            ("--group", self.group.clone()),
            ("--outbound-topic", self.outbound_topic.clone()),
            ("--dlq-topic", self.dlq_topic.clone()),
            ("--database-url", self.database_url.clone()),
            ("--registry-url", self.registry.url.clone()),
            ("--retry-base-ms", "100".into()),
            ("--retry-cap-ms", "400".into()),
            ("--poll-ms", "50".into()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v])
        .collect();
        if let Some(auth) = &self.registry.auth {
            args.extend(["--registry-auth".to_owned(), auth.clone()]);
        }
        args
    }

    /// Starts a notifier in this process with `extra` flags, and waits until its outbox
    /// exists (so subscriptions can be made).
    pub async fn start(&self, extra: &[&str]) -> Running {
        let settings = self.settings(extra);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = orderflow_notifier::run(settings, listener, shutdown).await {
                panic!("the notifier failed: {e:#}");
            }
        });
        self.wait_for_outbox().await;
        let ready = format!("{address}/readyz");
        eventually(Duration::from_secs(30), "the notifier ready", || async {
            let response = reqwest::get(&ready).await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        Running { stop: Some(stop) }
    }

    pub async fn wait_for_outbox(&self) {
        eventually(Duration::from_secs(30), "the outbox's tables", || async {
            sqlx::query("SELECT 1 FROM notifier.subscriptions LIMIT 1")
                .execute(&self.db)
                .await
                .is_ok()
                .then_some(())
        })
        .await;
    }

    /// A subscription made the way the query API makes them; its id and secret.
    pub async fn subscribe(
        &self,
        channel: Channel,
        customer: Option<&str>,
        target: &str,
    ) -> (Uuid, Option<String>) {
        let new = NewSubscription {
            channel,
            customer_id: customer.map(str::to_owned),
            target: target.to_owned(),
            created_by: "ops-1".into(),
        };
        new.check().unwrap();
        let (subscription, secret) = orderflow_outbox::create(&self.db, &new).await.unwrap();
        (subscription.id, secret)
    }

    /// Appends `events`, all in flight at once, keyed by order id.
    pub async fn append(&self, events: &[Event]) {
        let mut encoded = Vec::new();
        for event in events {
            encoded.push((
                event.order_id.clone(),
                self.codec.encode(event).await.unwrap(),
            ));
        }
        let sends = encoded.iter().map(|(key, value)| {
            let record = FutureRecord::to(&self.topic).key(key).payload(value);
            self.producer.send(record, Duration::from_secs(10))
        });
        for sent in join_all(sends).await {
            sent.map_err(|(e, _)| e).unwrap();
        }
    }

    /// Each delivery's state (`pending`, `delivered`, ...) by notice.
    pub async fn delivery_states(&self) -> Vec<(Uuid, String)> {
        sqlx::query_as("SELECT notice_id, state FROM notifier.deliveries ORDER BY notice_id")
            .fetch_all(&self.db)
            .await
            .unwrap()
    }
}

/// Whether every request `receiver` got carries a valid signature with `secret`.
pub fn all_signed(receiver: &WebhookReceiver, secret: &str) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    receiver.received().iter().all(|r| {
        let header = r.signature.as_deref().unwrap_or_default();
        signature::verify(
            secret.as_bytes(),
            header,
            &r.bytes,
            now,
            Duration::from_secs(300),
        )
        .is_ok()
    })
}

/// Waits until `receiver` accepted a notice of every one of `events`; the ids it got,
/// and the events' ids.
pub async fn every_notice(
    receiver: &WebhookReceiver,
    events: &[Event],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let expected: BTreeSet<String> = events.iter().map(|e| e.meta.event_id.to_string()).collect();
    let got = eventually(Duration::from_secs(120), "every notice", || async {
        let got: BTreeSet<String> = receiver
            .accepted()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        (got.len() >= expected.len()).then_some(got)
    })
    .await;
    (got, expected)
}

fn event(order: &str, version: u64, kind: EventKind) -> Event {
    Event {
        order_id: order.into(),
        version,
        meta: EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(1_767_225_600_000 + version as i64),
            idempotency_key: None,
            correlation_id: None,
        },
        kind,
    }
}

/// An order's whole life for `customer`: placed, packed, shipped, delivered.
pub fn lifecycle(order: &str, customer: &str) -> Vec<Event> {
    vec![
        event(
            order,
            1,
            EventKind::Placed(OrderPlaced {
                customer_id: customer.into(),
                items: vec![LineItem {
                    product_id: "sku-1".into(),
                    quantity: 2,
                    unit_price: Decimal::new(1250, 2),
                }],
                shipping_address: "1 Main St".into(),
                currency: "EUR".into(),
                total_amount: Decimal::new(2500, 2),
                confirmation: orderflow_domain::Confirmation::Implied,
                payment_method: None,
            }),
        ),
        event(
            order,
            2,
            EventKind::Packed {
                warehouse: "W1".into(),
            },
        ),
        event(
            order,
            3,
            EventKind::Shipped {
                carrier: "UPS".into(),
                tracking_number: "1Z999".into(),
                estimated_delivery: None,
            },
        ),
        event(order, 4, EventKind::Delivered),
    ]
}
