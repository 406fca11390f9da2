//! Wiring: the shared state handlers see, and `run`, which serves HTTP at once and brings
//! the log side up in the background (retrying until the broker and registry answer).

use crate::aggregates::{Ack, CommandRequest};
use crate::error::CommandError;
use crate::log;
use crate::metrics;
use crate::ownership::directory::Directory;
use crate::ownership::partitions::Held;
use crate::readiness::Readiness;
use crate::settings::Settings;
use crate::worker::{Worker, WorkerContext, WorkerMsg};
use anyhow::Context;
use orderflow_auth::{Authenticator, Principal, principal_key};
use orderflow_domain::{Confirmation, Order};
use orderflow_platform::Backoff;
use orderflow_platform::http::{HttpSettings, RateLimitLayer, serve};
use orderflow_platform::{LogError, LogIdentity, ensure_log, partition_for_key};
use orderflow_schemas::EventCodec;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

mod routing;

/// Capacity of each worker's inbox; a full inbox makes callers wait (backpressure).
const WORKER_INBOX: usize = 8192;

/// The senders of one worker set (a worker per partition), indexed by partition.
type Workers = Arc<Vec<mpsc::Sender<WorkerMsg>>>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The current worker set; replaced by a new one when the log side restarts.
    workers: Arc<RwLock<Option<Workers>>>,
    readiness: Arc<Readiness>,
    answer_timeout: Duration,
    authenticator: Authenticator,
    /// Each caller's request budget, inside authentication so it is per principal.
    rate_limit: RateLimitLayer,
    /// Who serves which partition, once the log side is up (ADR 0015).
    directory: Arc<RwLock<Option<Arc<Directory>>>>,
    /// The client commands for other instances' orders are forwarded with.
    forwarder: reqwest::Client,
    /// The URL other instances reach this one at.
    advertised_url: Arc<str>,
    /// What new orders wait for: fulfilment's confirmation, or nothing (ADR 0016).
    confirmation: Confirmation,
}

impl AppState {
    pub(crate) fn new(command_timeout: Duration, authenticator: Authenticator) -> Self {
        AppState {
            workers: Arc::new(RwLock::new(None)),
            readiness: Arc::new(Readiness::default()),
            // The worker answers 503 itself at the command timeout; this is the backstop.
            answer_timeout: command_timeout + Duration::from_secs(1),
            authenticator,
            rate_limit: RateLimitLayer::new(&HttpSettings::default(), principal_key),
            directory: Arc::new(RwLock::new(None)),
            forwarder: routing::forwarding_client(command_timeout),
            advertised_url: Arc::from(""),
            confirmation: Confirmation::Implied,
        }
    }

    /// New orders wait for fulfilment when `on`.
    pub(crate) fn with_fulfilment(mut self, on: bool) -> Self {
        self.confirmation = match on {
            true => Confirmation::Required,
            false => Confirmation::Implied,
        };
        self
    }

    /// The confirmation new orders are placed with.
    pub(crate) fn confirmation(&self) -> Confirmation {
        self.confirmation
    }

    /// Limits each principal's requests as `http` says (off unless it sets a rate).
    pub(crate) fn with_rate_limit(mut self, http: &HttpSettings) -> Self {
        self.rate_limit = RateLimitLayer::new(http, principal_key);
        self
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Verifies the bearer tokens of requests.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    pub(crate) fn rate_limit(&self) -> &RateLimitLayer {
        &self.rate_limit
    }

    fn worker_for(&self, order_id: &str) -> Result<mpsc::Sender<WorkerMsg>, CommandError> {
        if !self.readiness.is_replayed() {
            return Err(CommandError::Replaying);
        }
        let guard = self
            .workers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let workers = guard.as_ref().ok_or(CommandError::Replaying)?;
        let partition = partition_for_key(order_id.as_bytes(), workers.len() as i32);
        match self.readiness.held(partition) {
            Held::Serving => {}
            Held::Replaying => return Err(CommandError::Replaying),
            // Another instance's: `http::forward` sends such commands on before they get
            // here, so this is a partition that moved meanwhile.
            Held::NotOwned => return Err(crate::ownership::moved()),
        }
        // Its worker waits at a record it cannot read: it would not answer in time.
        if let Some(reason) = self.readiness.stalled_at(partition) {
            return Err(CommandError::Unavailable(reason));
        }
        Ok(workers[partition as usize].clone())
    }

    fn set_workers(&self, workers: Option<Workers>) {
        *self
            .workers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = workers;
    }

    /// Hands a command to the worker of its order's partition and waits for the answer.
    pub async fn submit(&self, request: CommandRequest) -> Result<Ack, CommandError> {
        if let Some(failure) = self.readiness.failure() {
            return Err(CommandError::Unavailable(failure));
        }
        if !self.readiness.is_broker_up() {
            return Err(CommandError::Unavailable("broker unreachable".into()));
        }
        let worker = self.worker_for(&request.order_id)?;
        let (reply, answer) = oneshot::channel();
        worker
            .try_send(WorkerMsg::Command(request, reply))
            .map_err(busy_or_gone)?;
        self.wait(answer).await
    }

    /// The write side's state of an order, if `caller` may see it (else not found).
    pub async fn inspect(&self, order_id: &str, caller: Principal) -> Result<Order, CommandError> {
        let worker = self.worker_for(order_id)?;
        let (reply, answer) = oneshot::channel();
        worker
            .try_send(WorkerMsg::Inspect(order_id.to_owned(), caller, reply))
            .map_err(busy_or_gone)?;
        self.wait(answer).await
    }

    /// Waits for a worker's answer, but never longer than a command may take: a worker
    /// stalled on a dependency must not hold HTTP requests forever.
    async fn wait<T>(
        &self,
        answer: oneshot::Receiver<Result<T, CommandError>>,
    ) -> Result<T, CommandError> {
        match tokio::time::timeout(self.answer_timeout, answer).await {
            Ok(answer) => answer.map_err(|_| gone())?,
            Err(_) => Err(CommandError::Unavailable(
                "no answer from the partition worker in time".into(),
            )),
        }
    }
}

fn busy_or_gone<T>(e: mpsc::error::TrySendError<T>) -> CommandError {
    match e {
        mpsc::error::TrySendError::Full(_) => CommandError::Overloaded,
        mpsc::error::TrySendError::Closed(_) => gone(),
    }
}

fn gone() -> CommandError {
    CommandError::Unavailable("the partition worker stopped".into())
}

/// Serves the API on `listener` until `shutdown` completes. The log side (topic, schemas,
/// replay) comes up in the background; until it has, commands get 503. A topic that is
/// not a log this service can trust (ADR 0010) ends `run` with an error at start-up.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Before the router is built: its HTTP metrics layer looks for the recorder.
    orderflow_platform::metrics::install("command-service", &settings.metrics);
    let authenticator = Authenticator::start(&settings.auth)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut settings = settings;
    if settings.advertise_url.is_none() {
        let mut address = listener.local_addr()?;
        if address.ip().is_unspecified() {
            // Nobody reaches 0.0.0.0: set ORDERFLOW_COMMAND_ADVERTISE_URL where instances
            // run on several hosts (compose, Kubernetes do).
            tracing::warn!(%address, "no ORDERFLOW_COMMAND_ADVERTISE_URL: advertising loopback, which only instances on this host reach");
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        settings.advertise_url = Some(format!("http://{address}"));
    }
    let advertised = settings.advertise_url.clone().unwrap_or_default();
    let state = AppState::new(settings.command_timeout(), authenticator)
        .with_rate_limit(&settings.http)
        .with_advertised_url(&advertised)
        .with_fulfilment(settings.fulfilment);
    tracing::info!(
        registry = %orderflow_platform::redact::url(&settings.registry.url),
        kafka = ?settings.kafka,
        "serving commands"
    );
    let http = settings.http.clone();
    let mut log_side = tokio::spawn(start_log_side(settings, state.clone()));
    // The limits per principal sit on the router; the server's own limits are `serve`'s.
    let served = serve(listener, crate::http::router(state), shutdown, &http);
    tokio::select! {
        served = served => {
            log_side.abort();
            served
        }
        refused = &mut log_side => match refused {
            Ok(refused) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, refused)),
            Err(e) => Err(std::io::Error::other(e)),
        },
    }
}

/// Brings the log side up, retrying with backoff, and supervises it: if any of its tasks
/// ends (a fatal producer error, a worker that died), the whole log side is torn down and
/// replayed from the log, so the service heals itself. Returns only when the log is refused
/// at start-up; a log that is gone or refused later leaves the service not ready for good.
/// Aborting this task stops everything (a `JoinSet` aborts its tasks when dropped).
async fn start_log_side(settings: Settings, state: AppState) -> LogError {
    let mut backoff = Backoff::standard();
    let mut known: Option<LogIdentity> = None;
    loop {
        match check_log(&settings, known.as_ref()).await {
            Ok(log) => match connect(&settings, &state, &log).await {
                Ok(mut tasks) => {
                    known = Some(log);
                    backoff.reset();
                    state.readiness.allowed();
                    let ended = tasks.join_next().await;
                    state.set_workers(None);
                    // The old reader leaves the group once its tasks and the directory let go.
                    *state.directory.write().unwrap_or_else(|p| p.into_inner()) = None;
                    if state.readiness.failure().is_some() {
                        return std::future::pending().await;
                    }
                    tracing::error!(?ended, "a log-side task ended; restarting the log side");
                    state.readiness.reset();
                }
                Err(e) => {
                    let action = format!("describe, read or write topic {}", log.topic);
                    not_up_yet(&state, &action, e.as_ref(), format!("{e:#}"), &backoff);
                }
            },
            Err(refused) if refused.is_fatal() => {
                if known.is_none() {
                    tracing::error!(error = %refused, "refusing to start");
                    return refused;
                }
                state.readiness.fail(refused.to_string());
                return std::future::pending().await;
            }
            Err(e) => {
                metrics::dependency_up("kafka", false);
                let action = format!("create or describe topic {}", settings.log.topic);
                not_up_yet(&state, &action, &e, e.to_string(), &backoff);
            }
        }
        backoff.wait().await;
    }
}

/// Logs why the log side is not up yet. When the broker refuses this service's principal,
/// `/readyz` says so instead of "replaying" (until the log side comes up), and the retries
/// go on at the backoff's pace, so a grant needs no restart.
fn not_up_yet(
    state: &AppState,
    action: &str,
    error: &(dyn std::error::Error + 'static),
    shown: String,
    backoff: &Backoff,
) {
    match log::refusal(action, error) {
        Some(reason) => state.readiness.deny(reason),
        None => tracing::warn!(
            error = shown,
            "log side not up yet; retrying in {:?}",
            backoff.delay()
        ),
    }
}

/// The log, created if missing and checked (ADR 0010); after the first connect, it must
/// still be the same log (a topic deleted and created again has another id).
async fn check_log(
    settings: &Settings,
    known: Option<&LogIdentity>,
) -> Result<LogIdentity, LogError> {
    let log = ensure_log(&settings.kafka, &settings.log).await?;
    match known {
        Some(known) if known.topic_id != log.topic_id => Err(LogError::Refused {
            topic: log.topic,
            problems: vec![format!(
                "it is not the log this process folded (topic id {}, now {}): it was deleted and created again",
                known.topic_id, log.topic_id
            )],
        }),
        _ => Ok(log),
    }
}

async fn connect(
    settings: &Settings,
    state: &AppState,
    log: &LogIdentity,
) -> anyhow::Result<JoinSet<()>> {
    metrics::describe();
    let topic = log.topic.clone();
    let partitions = log.partitions;
    let codec =
        EventCodec::new(&settings.registry.settings(), &topic).context("schema registry client")?;
    let registered = codec.register_all().await;
    metrics::dependency_up("registry", registered.is_ok());
    registered.context("registering the event schemas")?;
    let (failure_senders, mut failures): (Vec<_>, VecDeque<_>) =
        (0..partitions).map(|_| mpsc::unbounded_channel()).unzip();
    let deliveries = log::Deliveries::new(failure_senders);
    let producer = log::producer(&settings.kafka, deliveries).context("creating the producer")?;
    let membership = log::Membership {
        group: settings.group(),
        advertised_url: settings.advertise_url.clone().unwrap_or_default(),
        topic: topic.clone(),
        readiness: state.readiness.clone(),
        changes: Default::default(),
    };
    let reader =
        Arc::new(log::reader(&settings.kafka, membership).context("creating the consumer")?);
    let directory = Directory::new(
        reader.clone(),
        &settings.group(),
        &topic,
        state.advertised_url(),
    );
    *state.directory.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(directory));
    let ends = log::end_offsets(reader.clone(), &topic, partitions)
        .await
        .context("reading end offsets")?;
    let total: i64 = ends.iter().sum();
    tracing::info!(%topic, partitions, events = total, "replaying the log");

    state.readiness.expect_partitions(partitions as usize);
    state.readiness.set_broker_up(true);
    let ctx = Arc::new(WorkerContext {
        topic: topic.clone(),
        partitions,
        producer,
        reader: reader.clone(),
        codec: Arc::new(codec),
        readiness: state.readiness.clone(),
        command_timeout: settings.command_timeout(),
        max_locations: settings.max_locations_per_order,
    });
    let mut tasks = JoinSet::new();
    let mut senders = Vec::new();
    for partition in 0..partitions {
        let (tx, rx) = mpsc::channel(WORKER_INBOX);
        senders.push(tx);
        let failed = failures
            .pop_front()
            .expect("one failure channel per partition");
        tasks.spawn(Worker::new(partition, ctx.clone()).run(rx, failed));
    }
    tasks.spawn(log::feed_workers(
        reader.clone(),
        topic.clone(),
        senders.clone(),
        state.readiness.clone(),
    ));
    tasks.spawn(log::watch_broker(reader, topic, state.readiness.clone()));
    tasks.spawn(crate::readiness::log_replay_progress(
        state.readiness.clone(),
        total,
    ));
    tasks.spawn(metrics::sample_producer(ctx.clone()));
    state.set_workers(Some(Arc::new(senders)));
    Ok(tasks)
}
