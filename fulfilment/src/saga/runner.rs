//! The loop of the process manager: it folds the order log into the [`Book`], and once
//! the order log and both ledgers were read to their ends, plans and runs each saga's next
//! step, one step at a time per saga and many sagas at once.

use super::book::{Book, SagaOrder};
use super::plan::{Facts, Step, plan};
use super::steps::{StepOutcome, Steps};
use crate::health::Health;
use crate::metrics;
use crate::projection::Update;
use chrono::{DateTime, Utc};
use orderflow_domain::inventory::LineRef;
use orderflow_fulfilment_model::SagaRow;
use orderflow_platform::{Backoff, QuietEof};
use orderflow_schemas::EventCodec;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Most steps running at once, over all sagas.
const STEPS_IN_FLIGHT: usize = 256;

/// How the runner is set up.
pub struct RunnerConfig {
    pub topic: String,
    pub codec: Arc<EventCodec>,
    pub steps: Arc<Steps>,
    /// How long an authorization is retried before it is recorded as unanswered.
    pub authorize_deadline: Duration,
    /// A step next for longer than this is stuck.
    pub stuck_after: Duration,
    pub health: Arc<Health>,
    pub updates: mpsc::UnboundedSender<Update>,
}

/// Where one saga's next step stands.
struct Progress {
    step: Option<&'static str>,
    since: Instant,
    since_utc: DateTime<Utc>,
    attempts: i32,
    last_error: Option<String>,
    backoff: Backoff,
}

type Outcome = (String, Step, u64, StepOutcome);

pub struct Runner {
    config: RunnerConfig,
    book: Book,
    progress: HashMap<String, Progress>,
    running: HashSet<String>,
    awaiting_log: HashSet<String>,
    refusals: HashMap<String, String>,
    /// Partitions of the order log not read to their end since the start.
    replaying: HashSet<i32>,
    live: bool,
    permits: Arc<Semaphore>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    wakes: mpsc::UnboundedSender<String>,
}

impl Runner {
    /// Reads the order log from its start and drives the sagas until `stop`.
    pub async fn run(
        config: RunnerConfig,
        consumer: StreamConsumer<QuietEof>,
        stop: CancellationToken,
    ) {
        let (outcomes, mut outcomes_in) = mpsc::unbounded_channel();
        let (wakes, mut wakes_in) = mpsc::unbounded_channel();
        let mut runner = Runner {
            config,
            book: Book::default(),
            progress: HashMap::new(),
            running: HashSet::new(),
            awaiting_log: HashSet::new(),
            refusals: HashMap::new(),
            replaying: HashSet::new(),
            live: false,
            permits: Arc::new(Semaphore::new(STEPS_IN_FLIGHT)),
            outcomes,
            wakes,
        };
        let mut backoff = Backoff::standard();
        loop {
            match crate::log::read_from_start(&consumer, &runner.config.topic) {
                Ok(partitions) => break runner.replaying = partitions,
                Err(e) => tracing::warn!(error = %e, "the sagas wait for the order log"),
            }
            if !backoff.wait_unless(&stop).await {
                return;
            }
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                message = consumer.recv() => match message {
                    Ok(m) => {
                        let payload = m.payload().unwrap_or_default();
                        let codec = runner.config.codec.clone();
                        let decode = || codec.decode(payload);
                        let Some(decoded) = crate::log::decode_patiently("orders", decode, &runner.config.health, &stop).await else {
                            break;
                        };
                        runner.read(decoded)
                    }
                    Err(KafkaError::PartitionEOF(p)) => runner.reached_end(p),
                    Err(e) => tracing::warn!(error = %e, "reading the order log"),
                },
                Some((id, step, version, outcome)) = outcomes_in.recv() => {
                    runner.finished_step(&id, &step, version, outcome)
                }
                Some(id) = wakes_in.recv() => runner.drive(&id),
                _ = tick.tick() => runner.tick(),
            }
        }
    }

    fn read(&mut self, decoded: Result<orderflow_domain::Event, orderflow_schemas::CodecError>) {
        let event = match decoded {
            Ok(event) => event,
            Err(e) => {
                metrics::ledger_ignored("orders", "unreadable");
                tracing::error!(error = %e, "an unreadable order event is left out of the sagas");
                return;
            }
        };
        let Some(saga) = self.book.fold(&event) else {
            return;
        };
        let id = saga.id().to_owned();
        self.awaiting_log.remove(&id);
        self.drive(&id);
    }

    fn reached_end(&mut self, partition: i32) {
        if self.replaying.remove(&partition) && self.replaying.is_empty() {
            tracing::info!(
                sagas = self.book.len(),
                "the sagas read the order log to its end"
            );
        }
        self.tick();
    }

    /// Goes live once the order log and both ledgers were read to their ends; counts the
    /// stuck sagas.
    fn tick(&mut self) {
        let steps = &self.config.steps;
        let caught_up =
            self.replaying.is_empty() && steps.inventory.is_ready() && steps.payments.is_ready();
        if caught_up && !self.live {
            self.live = true;
            self.config.health.set_sagas_live();
            tracing::info!(sagas = self.book.len(), "the sagas resume");
            for id in self.book.ids() {
                self.drive(&id);
            }
        }
        let stuck = self
            .progress
            .values()
            .filter(|p| p.step.is_some() && p.since.elapsed() > self.config.stuck_after)
            .count();
        metrics::sagas(self.book.len(), stuck);
    }

    /// Plans `id`'s next step and starts it, unless one is running.
    fn drive(&mut self, id: &str) {
        if !self.live || self.running.contains(id) {
            return;
        }
        let Some(saga) = self.book.get(id).cloned() else {
            return;
        };
        let step = self.plan(&saga);
        self.note(&saga, &step);
        match &step {
            Step::Finished => self.finish(id),
            Step::Wait => {}
            Step::Confirm | Step::Reject(_) if self.awaiting_log.contains(id) => {}
            _ => self.start(saga, step),
        }
    }

    fn plan(&self, saga: &SagaOrder) -> Step {
        let steps = &self.config.steps;
        let reserved: Vec<bool> = (0..saga.items.len())
            .map(|line| {
                let line_ref = LineRef {
                    order_id: saga.id().to_owned(),
                    line: line as u32,
                };
                steps.inventory.with(&saga.items[line].product_id, |stock| {
                    stock.is_some_and(|s| s.reservations.contains_key(&line_ref))
                })
            })
            .collect();
        steps.payments.with(saga.id(), |payment| {
            plan(&Facts {
                status: saga.status(),
                reserved: &reserved,
                payment: payment.and_then(|p| p.status),
                decline_reason: payment.and_then(|p| p.decline_reason.as_deref()),
                refusal: self.refusals.get(saga.id()).map(String::as_str),
                has_payment_method: saga.payment_method.is_some(),
            })
        })
    }

    fn start(&mut self, saga: SagaOrder, step: Step) {
        let id = saga.id().to_owned();
        let overdue = step == Step::Authorize
            && self
                .progress
                .get(&id)
                .is_some_and(|p| p.since.elapsed() > self.config.authorize_deadline);
        self.running.insert(id.clone());
        let (steps, permits, outcomes) = (
            self.config.steps.clone(),
            self.permits.clone(),
            self.outcomes.clone(),
        );
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let outcome = steps.run(&saga, &step, overdue).await;
            let _ = outcomes.send((id, step, saga.order.version, outcome));
        });
    }

    fn finished_step(&mut self, id: &str, step: &Step, version: u64, outcome: StepOutcome) {
        self.running.remove(id);
        metrics::step(step.name().unwrap_or("none"), &outcome);
        match outcome {
            StepOutcome::Done => self.drive(id),
            StepOutcome::AwaitLog => {
                // The order log may have brought the outcome while the step ran.
                if self
                    .book
                    .get(id)
                    .is_some_and(|s| s.order.version != version)
                {
                    self.drive(id);
                } else {
                    self.awaiting_log.insert(id.to_owned());
                }
            }
            StepOutcome::Refusal(reason) => {
                self.refusals.insert(id.to_owned(), reason);
                self.drive(id);
            }
            StepOutcome::Failed(error) => self.failed(id, step, error),
        }
    }

    fn failed(&mut self, id: &str, step: &Step, error: String) {
        tracing::warn!(order_id = %id, step = step.name(), %error, "a saga step failed; it is retried");
        let Some(progress) = self.progress.get_mut(id) else {
            return;
        };
        progress.attempts += 1;
        progress.last_error = Some(error);
        let delay = progress.backoff.advance();
        if let Some(saga) = self.book.get(id).cloned() {
            self.note(&saga, step);
        }
        let (wakes, id) = (self.wakes.clone(), id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = wakes.send(id);
        });
    }

    /// Records where the saga stands, for the stuck count and the read model.
    fn note(&mut self, saga: &SagaOrder, step: &Step) {
        let name = step.name();
        let progress = self
            .progress
            .entry(saga.id().to_owned())
            .or_insert_with(|| Progress {
                step: name,
                since: Instant::now(),
                since_utc: Utc::now(),
                attempts: 0,
                last_error: None,
                backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
            });
        if progress.step != name {
            progress.step = name;
            progress.since = Instant::now();
            progress.since_utc = Utc::now();
            progress.attempts = 0;
            progress.last_error = None;
            progress.backoff.reset();
        }
        let payment = self.config.steps.payments.with(saga.id(), |p| {
            p.and_then(|p| p.status).map(|s| s.as_str().to_owned())
        });
        let row = SagaRow {
            order_id: saga.id().to_owned(),
            status: saga.status().as_str().to_owned(),
            payment,
            step: name.map(str::to_owned),
            step_since: name.map(|_| progress.since_utc),
            attempts: progress.attempts,
            last_error: progress.last_error.clone(),
            finished: *step == Step::Finished,
            updated_at: Utc::now(),
        };
        let _ = self.config.updates.send(Update::Saga(row));
    }

    fn finish(&mut self, id: &str) {
        self.book.forget(id);
        self.progress.remove(id);
        self.refusals.remove(id);
        self.awaiting_log.remove(id);
    }
}
