//! The whole stack in one process: command service, projector and query API on port 0,
//! over a fresh topic, database, Redis prefix and consumer group, on the stack's registry.

use orderflow_testkit::{TestIssuer, fresh_database};
use reqwest::StatusCode;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A server task stopped (gracefully, then aborted) when dropped.
struct Service {
    address: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Service {
    async fn start<F, Fut, E>(run: F) -> Service
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Debug,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel();
        let future = run(listener, stopped);
        let task = tokio::spawn(async move {
            if let Err(e) = future.await {
                panic!("service failed: {e:?}");
            }
        });
        Service {
            address,
            stop: Some(stop),
            task,
        }
    }
}

impl Service {
    /// Stops gracefully (a projector leaves its group at once) within `within`.
    async fn stop(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(within, task).await;
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

async fn stopped(rx: oneshot::Receiver<()>) {
    let _ = rx.await;
}

/// The running stack.
pub struct Stack {
    pub client: reqwest::Client,
    /// The projector's settings, for running its tools (rebuild, verify) on this stack.
    pub projector: orderflow_projector::Settings,
    commands: Service,
    queries: Service,
    projector_service: Service,
    /// Runs for the stack's life (the query API's subscriptions are its tables).
    notifier: Service,
}

/// A service a test started beside the stack, stopped when dropped.
pub struct Extra(Service);

impl Extra {
    pub fn url(&self) -> &str {
        &self.0.address
    }
}

/// Starts a projector with `settings`.
async fn start_projector(settings: orderflow_projector::Settings) -> Service {
    Service::start(|l, rx| orderflow_projector::run(settings, l, stopped(rx))).await
}

impl Stack {
    pub async fn start() -> Stack {
        let brokers = env_or("ORDERFLOW_KAFKA_BROKERS", "127.0.0.1:9092");
        Stack::start_on(&brokers, |_, _, _| {}).await
    }

    /// The stack on the broker(s) at `brokers`, with `tune` adjusting the command service's,
    /// the projector's and the notifier's settings before they start (the notifier always
    /// folds the projector's log).
    pub async fn start_on(
        brokers: &str,
        tune: impl FnOnce(
            &mut orderflow_command_service::Settings,
            &mut orderflow_projector::Settings,
            &mut orderflow_notifier::Settings,
        ),
    ) -> Stack {
        let redis = env_or("ORDERFLOW_REDIS_URL", "redis://127.0.0.1:6379");
        let topic = format!("orders.events.e2e-{}", Uuid::new_v4().simple());
        let prefix = format!("e2e-{}:", Uuid::new_v4().simple());

        let registry = orderflow_testkit::Registry::shared();

        let issuer = TestIssuer::shared();
        let mut commands_settings =
            orderflow_command_service::Settings::for_stack(brokers, &registry.url, &topic);
        commands_settings.auth = issuer.settings();
        let read_db = fresh_database("qa_test_e2e").await;
        let mut settings = orderflow_projector::Settings::for_stack(
            brokers,
            &registry.url,
            &topic,
            &read_db,
            &redis,
        );
        settings.redis_prefix = prefix.clone();
        settings.group = format!("e2e-{}", Uuid::new_v4().simple());
        let mut notifier_settings = notifier_settings(brokers, &registry, &topic, &read_db);
        tune(
            &mut commands_settings,
            &mut settings,
            &mut notifier_settings,
        );
        notifier_settings.topic = settings.log.topic.clone();
        let commands = Service::start(|l, rx| {
            orderflow_command_service::run(commands_settings, l, stopped(rx))
        })
        .await;

        let projector_settings = settings.clone();
        let projector = start_projector(settings).await;
        let notifier =
            Service::start(|l, rx| orderflow_notifier::run(notifier_settings, l, stopped(rx)))
                .await;

        let client = issuer.operator_client();
        // The query API reads the projector's tables: wait until the projector has made them.
        wait_ready(&client, &commands.address).await;
        wait_ready(&client, &projector.address).await;
        // The subscriptions' tables are the notifier's.
        wait_ready(&client, &notifier.address).await;
        let mut settings = orderflow_query_api::Settings::for_stack(&read_db, &redis);
        settings.auth = issuer.settings();
        let queries =
            Service::start(|l, rx| orderflow_query_api::run(settings, l, stopped(rx))).await;
        wait_ready(&client, &queries.address).await;
        Stack {
            client,
            projector: projector_settings,
            commands,
            queries,
            projector_service: projector,
            notifier,
        }
    }

    /// A fulfilment service on the stack's log and read-model database, over topics of its
    /// own (the stack's orders need no confirmation, so it has no processor to call).
    pub async fn start_fulfilment(&self) -> Extra {
        self.start_fulfilment_with(|_| {}).await
    }

    /// [`Stack::start_fulfilment`] with `adjust` changing its settings first.
    pub async fn start_fulfilment_with(
        &self,
        adjust: impl FnOnce(&mut orderflow_fulfilment::Settings),
    ) -> Extra {
        let id = Uuid::new_v4().simple();
        let projector = &self.projector;
        let mut settings = orderflow_fulfilment::Settings::for_stack(
            &projector.kafka.brokers,
            &projector.registry.url,
            &projector.database_url,
        );
        settings.orders_topic = projector.log.topic.clone();
        settings.inventory_topic = format!("inventory.events.test-{id}");
        settings.payments_topic = format!("payments.events.test-{id}");
        settings.command_url = self.commands.address.clone();
        settings.auth = TestIssuer::shared().settings();
        adjust(&mut settings);
        let service =
            Service::start(|l, rx| orderflow_fulfilment::run(settings, l, stopped(rx))).await;
        wait_ready(&self.client, &service.address).await;
        Extra(service)
    }

    /// The command service's base URL.
    pub fn commands_url(&self) -> &str {
        &self.commands.address
    }

    /// The query API's base URL.
    pub fn queries_url(&self) -> &str {
        &self.queries.address
    }

    /// The notifier's base URL (health and metrics).
    pub fn notifier_url(&self) -> &str {
        &self.notifier.address
    }

    /// The projector's base URL (health and metrics).
    pub fn projector_url(&self) -> &str {
        &self.projector_service.address
    }

    /// Stops the projector gracefully and starts it again on the same group and read model.
    pub async fn restart_projector(&mut self) {
        let restarted = start_projector(self.projector.clone());
        let old = std::mem::replace(&mut self.projector_service, restarted.await);
        old.stop(Duration::from_secs(20)).await;
        wait_ready(&self.client, &self.projector_service.address).await;
    }

    /// Opens a stream of the query API (`Last-Event-ID` when `last_seen`), as `token`'s
    /// caller or the stack's operator.
    pub async fn stream(
        &self,
        path: &str,
        last_seen: Option<u64>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.queries.address));
        if let Some(version) = last_seen {
            request = request.header("last-event-id", version.to_string());
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// POSTs a command and returns its 2xx body.
    pub async fn command(&self, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.commands.address))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// GETs from the query API, expecting 200.
    pub async fn query(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.queries.address))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// Reads `id` at `version` or later through `min_version`, as a client would right
    /// after its command.
    pub async fn read_own_write(&self, id: &str, version: u64) -> Value {
        let body = self
            .query(&format!("/orders/{id}?min_version={version}&wait_ms=5000"))
            .await;
        assert!(body["version"].as_u64().unwrap() >= version, "{body}");
        body
    }
}

/// The notifier on the stack's log and read-model database, publishing to topics of its
/// own, retrying quickly.
fn notifier_settings(
    brokers: &str,
    registry: &orderflow_testkit::Registry,
    topic: &str,
    database: &str,
) -> orderflow_notifier::Settings {
    let id = Uuid::new_v4().simple();
    let mut args = vec![
        "notifier".to_owned(),
        format!("--kafka-brokers={brokers}"),
        format!("--topic={topic}"),
        format!("--group=e2e-nt-{id}"),
        format!("--outbound-topic=notifications.outbound.test-{id}"),
        format!("--dlq-topic=notifications.dlq.test-{id}"),
        format!("--database-url={database}"),
        format!("--registry-url={}", registry.url),
        "--retry-base-ms=100".to_owned(),
        "--retry-cap-ms=400".to_owned(),
        "--poll-ms=50".to_owned(),
        // No SMTP server in this stack (the discard port is closed): email attempts fail.
        "--smtp-url=smtp://127.0.0.1:9".to_owned(),
    ];
    if let Some(auth) = &registry.auth {
        args.push(format!("--registry-auth={auth}"));
    }
    <orderflow_notifier::Settings as clap::Parser>::parse_from(args)
}

/// Sends `request` with `token` and returns the status and JSON body.
pub async fn as_caller(request: reqwest::RequestBuilder, token: &str) -> (StatusCode, Value) {
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_ready(client: &reqwest::Client, address: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{address}/readyz")).send().await
            && r.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{address} did not become ready");
}
