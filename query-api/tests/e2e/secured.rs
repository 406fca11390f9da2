//! Kafka over SASL_SSL with ACLs (issue 15), on the secured broker of
//! `scripts/kafka-secure.sh` (`start_secure_kafka`, which `scripts/test.sh` runs): each
//! service authenticates as its own principal from its properties file
//! (`ORDERFLOW_KAFKA_CONFIG_FILE`), and the broker allows only what
//! `scripts/kafka/acls.txt` grants. A whole flow goes through; a principal without ACLs
//! is refused, and its service says so on `/readyz` while it keeps running and retrying
//! slowly.
//!
//! The tests use topics under the ACLs' test prefixes: the log `orders.events.sec-<id>`,
//! the dead-letter topic `orders.dlq.sec-<id>`, the group `orderflow-projector-sec-<id>`,
//! the notifier's `notifications.{outbound,dlq}.sec-<id>` and
//! `orderflow-notifier-sec-<id>`, and fulfilment's `{inventory,payments}.events.sec-<id>`.

use crate::stack::Stack;
use orderflow_platform::{KafkaSettings, LogSettings};
use orderflow_testkit::WebhookReceiver;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How long a refused service gets to say why on `/readyz`.
const REFUSAL_WITHIN: Duration = Duration::from_secs(30);
/// The window in which a refused service's retries are counted.
const RETRY_WINDOW: Duration = Duration::from_secs(6);
/// Most refusals the broker may log for one topic in [`RETRY_WINDOW`]: the services back
/// off up to 5 s between attempts (a few refusals each); a hot loop would make hundreds.
const MOST_REFUSALS_IN_WINDOW: usize = 20;

/// The secured broker the scripts started.
struct Secured {
    dir: PathBuf,
    brokers: String,
}

impl Secured {
    /// The broker of `ORDERFLOW_SECURE_KAFKA_DIR`; `None` (the test is skipped, loudly)
    /// only outside CI and outside `scripts/test.sh`.
    fn from_env() -> Option<Secured> {
        let Ok(dir) = std::env::var("ORDERFLOW_SECURE_KAFKA_DIR") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "ORDERFLOW_SECURE_KAFKA_DIR is not set in CI: scripts/test.sh starts the secured \
                 broker (scripts/kafka-secure.sh start_secure_kafka) and exports it"
            );
            eprintln!(
                "\n*** SKIPPED: the secured Kafka tests need the secured broker. Run them through \
                 scripts/test.sh, or `source scripts/kafka-secure.sh && start_secure_kafka` and \
                 export ORDERFLOW_SECURE_KAFKA_DIR=$SECURE_KAFKA_DIR. ***\n"
            );
            return None;
        };
        let brokers = std::env::var("ORDERFLOW_SECURE_KAFKA_BROKERS")
            .unwrap_or_else(|_| "127.0.0.1:9192".to_owned());
        Some(Secured {
            dir: dir.into(),
            brokers,
        })
    }

    /// Client settings of `principal`, from the properties file the scripts wrote for it.
    fn kafka(&self, principal: &str) -> KafkaSettings {
        let file = self.dir.join(format!("{principal}.properties"));
        KafkaSettings::new(&self.brokers)
            .with_config_file(&file)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Lines of the broker's log where the authorizer denied something on `topic`.
    fn refusals_logged(&self, topic: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.join("kafka.log")).unwrap_or_default();
        log.lines()
            .filter(|line| line.contains("is Denied") && line.contains(topic))
            .count()
    }
}

/// Fresh names under the ACLs' test prefixes.
struct Names {
    topic: String,
    dlq: String,
    group: String,
    notifier_group: String,
    outbound: String,
    notifications_dlq: String,
}

impl Names {
    fn fresh() -> Names {
        let id = Uuid::new_v4().simple();
        Names {
            topic: format!("orders.events.sec-{id}"),
            dlq: format!("orders.dlq.sec-{id}"),
            group: format!("orderflow-projector-sec-{id}"),
            notifier_group: format!("orderflow-notifier-sec-{id}"),
            outbound: format!("notifications.outbound.sec-{id}"),
            notifications_dlq: format!("notifications.dlq.sec-{id}"),
        }
    }
}

#[tokio::test]
async fn an_order_flows_through_services_that_each_authenticate_as_their_own_principal() {
    let Some(secured) = Secured::from_env() else {
        return;
    };
    if std::env::var_os("RUST_LOG").is_some() {
        orderflow_platform::init_tracing();
    }
    let names = Names::fresh();
    let stack = Stack::start_on(&secured.brokers, |commands, projector, notifier| {
        commands.kafka = secured.kafka("command-service");
        commands.log = LogSettings::new(&names.topic);
        projector.kafka = secured.kafka("projector");
        projector.log = LogSettings::new(&names.topic);
        projector.dlq_topic = Some(names.dlq.clone());
        projector.group = names.group.clone();
        notifier.kafka = secured.kafka("notifier");
        notifier.group = names.notifier_group.clone();
        notifier.outbound_topic = names.outbound.clone();
        notifier.dlq_topic = names.notifications_dlq.clone();
    })
    .await;
    // The notifier reads the log and publishes as its own principal too.
    let receiver = WebhookReceiver::start(0).await;
    let hook = json!({"channel": "webhook", "url": receiver.url});
    let response = stack
        .client
        .post(format!("{}/subscriptions", stack.queries_url()));
    let created = response.json(&hook).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let body = json!({
        "customer_id": "cust-secured",
        "items": [{"product_id": "sku-tls", "quantity": 2, "unit_price": "9.50"}],
        "shipping_address": "1 Main St",
    });
    let placed = stack.command("/orders", &body).await;
    let id = placed["order_id"].as_str().unwrap().to_owned();

    let read = stack.read_own_write(&id, 1).await;
    assert_eq!(read["status"], "placed", "{read}");
    assert_eq!(read["customer_id"], "cust-secured", "{read}");
    assert_eq!(read["total_amount"], "19.00", "{read}");
    let start = Instant::now();
    while receiver.accepted().is_empty() {
        assert!(start.elapsed() < REFUSAL_WITHIN, "the notifier told no one");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.accepted()[0]["data"]["order_id"], id.as_str());
    assert_eq!(secured.refusals_logged(&names.topic), 0);
}

/// Fulfilment (ADR 0016) as its own principal: it reads the order log, creates, writes and
/// reads back its two logs under its ACLs, and confirms an order paid through stripe-mock.
#[tokio::test]
async fn fulfilment_confirms_an_order_as_its_own_principal() {
    let Some(secured) = Secured::from_env() else {
        return;
    };
    let Some(stripe) = orderflow_testkit::stripe::StripeMock::start().await else {
        return;
    };
    let names = Names::fresh();
    let stack = Stack::start_on(&secured.brokers, |commands, projector, notifier| {
        commands.kafka = secured.kafka("command-service");
        commands.log = LogSettings::new(&names.topic);
        commands.fulfilment = true;
        projector.kafka = secured.kafka("projector");
        projector.log = LogSettings::new(&names.topic);
        projector.dlq_topic = Some(names.dlq.clone());
        projector.group = names.group.clone();
        notifier.kafka = secured.kafka("notifier");
        notifier.group = names.notifier_group.clone();
        notifier.outbound_topic = names.outbound.clone();
        notifier.dlq_topic = names.notifications_dlq.clone();
    })
    .await;
    let token = std::env::temp_dir().join(format!("orderflow-sec-token-{}", names.group));
    let issuer = orderflow_testkit::TestIssuer::shared();
    std::fs::write(
        &token,
        issuer.token("fulfilment", &[orderflow_auth::Role::Fulfilment]),
    )
    .unwrap();
    let fulfilment = stack
        .start_fulfilment_with(|s| {
            s.kafka = secured.kafka("fulfilment");
            s.inventory_topic = format!("inventory.events.sec-{}", names.group);
            s.payments_topic = format!("payments.events.sec-{}", names.group);
            s.token_file = Some(token.clone());
            s.stripe_url = stripe.url.clone();
        })
        .await;
    let receipt = stack
        .client
        .post(format!("{}/stock/sku-tls/receipts", fulfilment.url()))
        .json(&json!({"quantity": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status(), StatusCode::OK);
    let body = json!({
        "customer_id": "cust-secured", "shipping_address": "1 Main St",
        "items": [{"product_id": "sku-tls", "quantity": 2, "unit_price": "9.50"}],
        "payment_method": "pm_card_visa",
    });
    let id = stack.command("/orders", &body).await["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirmed = stack.read_own_write(&id, 2).await;
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(secured.refusals_logged(&names.topic), 0);
}

#[tokio::test]
async fn a_command_service_whose_principal_has_no_acls_is_refused_and_says_so() {
    let Some(secured) = Secured::from_env() else {
        return;
    };
    if std::env::var_os("RUST_LOG").is_some() {
        orderflow_platform::init_tracing();
    }
    let names = Names::fresh();
    let registry = orderflow_testkit::Registry::shared();
    let mut settings = orderflow_command_service::Settings::for_stack(
        &secured.brokers,
        &registry.url,
        &names.topic,
    );
    settings.kafka = secured.kafka("intruder");
    settings.auth = orderflow_testkit::TestIssuer::shared().settings();
    let mut service =
        Spawned::start(|l, stop| orderflow_command_service::run(settings, l, stop)).await;

    let body = service.refused_within(REFUSAL_WITHIN).await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!(
            "not authorized to create or describe topic {}",
            names.topic
        )) && detail.contains("TOPIC_AUTHORIZATION_FAILED"),
        "{body}"
    );
    assert!(!detail.contains("unreachable"), "{body}");

    then_it_keeps_running_and_retries_slowly(&secured, &service, &names.topic).await;
}

#[tokio::test]
async fn a_projector_whose_principal_has_no_acls_is_refused_and_says_so() {
    let Some(secured) = Secured::from_env() else {
        return;
    };
    if std::env::var_os("RUST_LOG").is_some() {
        orderflow_platform::init_tracing();
    }
    let names = Names::fresh();
    let registry = orderflow_testkit::Registry::shared();
    let redis =
        std::env::var("ORDERFLOW_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let database = orderflow_testkit::fresh_database("qa_test_e2e").await;
    let mut settings = orderflow_projector::Settings::for_stack(
        &secured.brokers,
        &registry.url,
        &names.topic,
        &database,
        &redis,
    );
    settings.kafka = secured.kafka("intruder");
    settings.dlq_topic = Some(names.dlq.clone());
    settings.group = names.group.clone();
    settings.redis_prefix = format!("sec-{}:", Uuid::new_v4().simple());
    let mut service = Spawned::start(|l, stop| orderflow_projector::run(settings, l, stop)).await;

    let body = service.refused_within(REFUSAL_WITHIN).await;
    let denied = body["access_denied"].as_str().unwrap_or_default();
    assert!(
        denied.contains(&format!("create, describe or read topic {}", names.topic))
            && denied.contains("TOPIC_AUTHORIZATION_FAILED"),
        "{body}"
    );

    then_it_keeps_running_and_retries_slowly(&secured, &service, &names.topic).await;
}

/// The refused service stays alive and not ready, and the broker sees a handful of
/// attempts in [`RETRY_WINDOW`], not a hot loop.
async fn then_it_keeps_running_and_retries_slowly(
    secured: &Secured,
    service: &Spawned,
    topic: &str,
) {
    let before = secured.refusals_logged(topic);
    tokio::time::sleep(RETRY_WINDOW).await;
    let refusals = secured.refusals_logged(topic) - before;
    assert!(
        refusals <= MOST_REFUSALS_IN_WINDOW,
        "{refusals} refusals on {topic} in {RETRY_WINDOW:?}: the service retries too fast"
    );
    assert!(!service.task.is_finished(), "the refused service stopped");
    let (status, body) = service.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.to_string().contains("TOPIC_AUTHORIZATION_FAILED"),
        "{body}"
    );
    let (status, body) = service.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// One service on port 0, stopped (gracefully, then aborted) when dropped.
struct Spawned {
    address: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Spawned {
    async fn start<F, Fut>(run: F) -> Spawned
    where
        F: FnOnce(TcpListener, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(
            listener,
            Box::pin(async move {
                let _ = stopped.await;
            }),
        ));
        Spawned {
            address,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The `/readyz` body once it reports an authorization failure (503 with
    /// TOPIC_AUTHORIZATION_FAILED); panics if that does not come within `limit`.
    async fn refused_within(&mut self, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            if self.task.is_finished() {
                panic!("the refused service stopped: {:?}", (&mut self.task).await);
            }
            if let Ok(response) = self
                .client
                .get(format!("{}/readyz", self.address))
                .send()
                .await
            {
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if body.to_string().contains("TOPIC_AUTHORIZATION_FAILED") {
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
                    return body;
                }
                assert!(
                    started.elapsed() < limit,
                    "no authorization failure on /readyz within {limit:?}: {status} {body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}
