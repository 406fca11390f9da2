//! The single writer of one log: one task owns the folded states, the producer and the
//! reader of every partition. A command is decided against the state, its event appended,
//! and the caller answered when the event comes back from the log and the fold accepts it.
//! Commands for one key wait their turn (one in flight per key); different keys are in
//! flight together, and the producer batches their records.

use super::Aggregate;
use super::handle::{Answered, Ledger, LedgerConfig, LedgerError, OnAccepted, Request};
use crate::metrics;
use orderflow_domain::{EventMeta, LedgerOutcome, Timestamp};
use orderflow_platform::{QuietEof, log_gone};
use orderflow_schemas::ledger::{LedgerCodec, LedgerRecord};
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct InFlight<A: Aggregate> {
    event_id: Uuid,
    request: Request<A>,
    since: Instant,
}

/// Starts the writer of `config.topic`: it reads the whole log, then takes commands.
pub fn spawn<A: Aggregate>(
    config: LedgerConfig<'_, A>,
    stop: CancellationToken,
) -> Result<Ledger<A>, KafkaError> {
    let consumer = crate::log::reader(config.kafka)?;
    let producer: FutureProducer = config
        .kafka
        .client_config(&[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "1"),
        ])
        .create()?;
    let (requests, incoming) = mpsc::channel(1024);
    let ledger = Ledger {
        name: config.name,
        requests,
        states: Arc::new(RwLock::new(HashMap::new())),
        ready: Arc::new(AtomicBool::new(false)),
        answer_within: config.timeout + Duration::from_secs(2),
    };
    let writer = Writer {
        name: config.name,
        topic: config.topic.to_owned(),
        codec: config.codec,
        producer,
        timeout: config.timeout,
        on_accepted: config.on_accepted,
        health: config.health,
        states: ledger.states.clone(),
        ready: ledger.ready.clone(),
        replaying: HashSet::new(),
        in_flight: HashMap::new(),
        queued: HashMap::new(),
        used_keys: HashMap::new(),
    };
    tokio::spawn(writer.run(consumer, incoming, stop));
    Ok(ledger)
}

struct Writer<A: Aggregate> {
    name: &'static str,
    topic: String,
    codec: Arc<LedgerCodec<A::Event>>,
    producer: FutureProducer,
    timeout: Duration,
    on_accepted: Option<OnAccepted<A>>,
    health: Arc<crate::health::Health>,
    states: Arc<RwLock<HashMap<String, A>>>,
    ready: Arc<AtomicBool>,
    /// Partitions not read to their end yet since the start.
    replaying: HashSet<i32>,
    in_flight: HashMap<String, InFlight<A>>,
    queued: HashMap<String, VecDeque<Request<A>>>,
    /// The events appended under an idempotency key, by aggregate and key, from the log.
    used_keys: HashMap<String, HashMap<String, A::Event>>,
}

impl<A: Aggregate> Writer<A> {
    async fn run(
        mut self,
        consumer: StreamConsumer<QuietEof>,
        mut incoming: mpsc::Receiver<Request<A>>,
        stop: CancellationToken,
    ) {
        let mut backoff = orderflow_platform::Backoff::standard();
        while let Err(e) = self.assign(&consumer) {
            tracing::warn!(log = self.name, error = %e, "the ledger waits for its log");
            if !backoff.wait_unless(&stop).await {
                return;
            }
        }
        let (failed, mut failures) = mpsc::unbounded_channel();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(request) = incoming.recv() => self.take(request, &failed).await,
                message = consumer.recv() => match message {
                    Ok(m) => {
                        let payload = m.payload().unwrap_or_default();
                        let decode = || self.codec.decode(payload);
                        let Some(decoded) = crate::log::decode_patiently(self.name, decode, &self.health, &stop).await else {
                            break;
                        };
                        self.read(m.partition(), decoded, &failed).await
                    }
                    Err(KafkaError::PartitionEOF(p)) => self.reached_end(p),
                    Err(e) => self.broken(&e),
                },
                Some((key, id, error)) = failures.recv() => self.failed(&key, id, error, &failed).await,
                _ = tick.tick() => self.expire(&failed).await,
            }
        }
    }

    /// Reads every partition from its start.
    fn assign(&mut self, consumer: &StreamConsumer<QuietEof>) -> Result<(), KafkaError> {
        self.replaying = crate::log::read_from_start(consumer, &self.topic)?;
        Ok(())
    }

    fn reached_end(&mut self, partition: i32) {
        if self.replaying.remove(&partition) && self.replaying.is_empty() {
            tracing::info!(log = self.name, "the ledger read its log to the end");
            self.ready.store(true, Ordering::Release);
        }
    }

    fn broken(&self, error: &KafkaError) {
        match log_gone(&self.topic, error) {
            Some(why) => {
                tracing::error!(log = self.name, %why, "the ledger's log is gone");
                self.ready.store(false, Ordering::Release);
            }
            None => tracing::warn!(log = self.name, %error, "reading the ledger's log"),
        }
    }

    async fn take(&mut self, request: Request<A>, failed: &Failures) {
        if !self.ready.load(Ordering::Acquire) {
            let why = "reading its log since the start".to_owned();
            let _ = request
                .reply
                .send(Err(LedgerError::Unavailable(self.name, why)));
        } else if self.in_flight.contains_key(&request.key) {
            self.queued
                .entry(request.key.clone())
                .or_default()
                .push_back(request);
        } else {
            self.start(request, failed).await;
        }
    }

    /// Decides and appends `request`, or answers it; then the next of its key, if any.
    async fn start(&mut self, mut request: Request<A>, failed: &Failures) {
        loop {
            // A malformed request is refused first, a retry's included; then a retry is
            // answered from the log, or refused if its key was used for another request.
            let early = match (
                A::check(&request.key, &request.command),
                self.earlier(&request),
            ) {
                (Err(e), _) => Some(Err(LedgerError::Refused(e))),
                (Ok(()), Some(true)) => Some(Ok(Answered {
                    state: self.current(&request.key),
                    replayed: true,
                })),
                (Ok(()), Some(false)) => Some(Err(LedgerError::KeyReused)),
                (Ok(()), None) => None,
            };
            if let Some(answer) = early {
                let key = request.key.clone();
                let _ = request.reply.send(answer);
                match self.next_of(&key) {
                    Some(next) => request = next,
                    None => return,
                }
                continue;
            }
            match self.append(&request, failed).await {
                Ok(event_id) => {
                    let key = request.key.clone();
                    let since = Instant::now();
                    let flight = InFlight {
                        event_id,
                        request,
                        since,
                    };
                    self.in_flight.insert(key, flight);
                    return;
                }
                Err(answer) => {
                    let key = request.key.clone();
                    let _ = request.reply.send(Err(answer));
                    match self.next_of(&key) {
                        Some(next) => request = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// Whether the log already holds an event of `request`'s aggregate appended under its
    /// idempotency key (`None`: it does not), and whether that event is what `request`
    /// asks for.
    fn earlier(&self, request: &Request<A>) -> Option<bool> {
        let idempotency_key = request.idempotency_key.as_ref()?;
        let event = self.used_keys.get(&request.key)?.get(idempotency_key)?;
        Some(A::same_request(event, &request.command))
    }

    fn next_of(&mut self, key: &str) -> Option<Request<A>> {
        let queue = self.queued.get_mut(key)?;
        let next = queue.pop_front();
        if queue.is_empty() {
            self.queued.remove(key);
        }
        next
    }

    async fn append(
        &self,
        request: &Request<A>,
        failed: &Failures,
    ) -> Result<Uuid, LedgerError<A::Error>> {
        let meta = EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(chrono::Utc::now().timestamp_millis()),
            correlation_id: request.correlation_id.clone(),
            idempotency_key: request.idempotency_key.clone(),
        };
        // Decided under the read lock, on the state as it is: no copy of it.
        let decided = {
            let states = self.states.read().unwrap_or_else(|p| p.into_inner());
            match states.get(&request.key) {
                Some(state) => state.decide(&request.command, meta),
                None => A::new(&request.key).decide(&request.command, meta),
            }
        };
        let event = decided.map_err(LedgerError::Refused)?;
        let unavailable = |e: String| LedgerError::Unavailable(self.name, e);
        let bytes = self
            .codec
            .encode(&event)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let record = FutureRecord::to(&self.topic)
            .key(event.key())
            .payload(&bytes);
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(e, _)| unavailable(e.to_string()))?;
        let (key, id, failed) = (request.key.clone(), A::event_id(&event), failed.clone());
        tokio::spawn(async move {
            let error = match delivery.await {
                Ok(Ok(_)) => return,
                Ok(Err((e, _))) => e.to_string(),
                Err(_) => "the producer was dropped".to_owned(),
            };
            let _ = failed.send((key, id, error));
        });
        Ok(A::event_id(&event))
    }

    /// Folds `event` into the state of `key` in place (no copy of the state), telling
    /// the read model of an accepted one.
    fn fold(&self, key: &str, event: &A::Event) -> LedgerOutcome {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        let state = states.remove(key).unwrap_or_else(|| A::new(key));
        let (state, outcome) = state.fold(event);
        if outcome == LedgerOutcome::Accepted
            && let Some(on_accepted) = &self.on_accepted
        {
            on_accepted(&state);
        }
        states.insert(key.to_owned(), state);
        outcome
    }

    fn current(&self, key: &str) -> A {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        states.get(key).cloned().unwrap_or_else(|| A::new(key))
    }

    /// Folds one record of the log, and answers the command it was appended for.
    async fn read(
        &mut self,
        partition: i32,
        decoded: Result<A::Event, orderflow_schemas::CodecError>,
        failed: &Failures,
    ) {
        let event = match decoded {
            Ok(event) => event,
            Err(e) => {
                metrics::ledger_ignored(self.name, "unreadable");
                tracing::error!(log = self.name, partition, error = %e, "an unreadable record is left out of the fold");
                return;
            }
        };
        let key = event.key().to_owned();
        let outcome = self.fold(&key, &event);
        match outcome {
            LedgerOutcome::Accepted => {
                if let Some(idempotency_key) = A::idempotency_key(&event) {
                    let keys = self.used_keys.entry(key.clone()).or_default();
                    keys.insert(idempotency_key.to_owned(), event.clone());
                }
            }
            LedgerOutcome::VersionConflict { .. } => metrics::ledger_ignored(self.name, "version"),
            LedgerOutcome::NotAllowed => metrics::ledger_ignored(self.name, "not_allowed"),
        }
        let ours = self.in_flight.get(&key).map(|f| f.event_id) == Some(A::event_id(&event));
        if !ours {
            return;
        }
        let flight = self.in_flight.remove(&key).expect("checked above");
        if outcome == LedgerOutcome::Accepted {
            let _ = flight.request.reply.send(Ok(Answered {
                state: self.current(&key),
                replayed: false,
            }));
            if let Some(next) = self.next_of(&key) {
                self.start(next, failed).await;
            }
        } else {
            self.retry(flight.request, outcome, failed).await;
        }
    }

    /// Another writer's event took the version: decide again on the state that has it.
    async fn retry(&mut self, mut request: Request<A>, outcome: LedgerOutcome, failed: &Failures) {
        request.conflicts += 1;
        if request.conflicts > 3 {
            let key = request.key.clone();
            let why = format!("the log kept refusing the event ({outcome:?})");
            let _ = request
                .reply
                .send(Err(LedgerError::Unavailable(self.name, why)));
            if let Some(next) = self.next_of(&key) {
                self.start(next, failed).await;
            }
            return;
        }
        self.start(request, failed).await;
    }

    async fn failed(&mut self, key: &str, id: Uuid, error: String, failed: &Failures) {
        if self.in_flight.get(key).map(|f| f.event_id) != Some(id) {
            return;
        }
        let flight = self.in_flight.remove(key).expect("checked above");
        let _ = flight
            .request
            .reply
            .send(Err(LedgerError::Unavailable(self.name, error)));
        if let Some(next) = self.next_of(key) {
            self.start(next, failed).await;
        }
    }

    /// Answers the commands whose events did not come back in time.
    async fn expire(&mut self, failed: &Failures) {
        let late: Vec<String> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.since.elapsed() > self.timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for key in late {
            let flight = self.in_flight.remove(&key).expect("listed above");
            let why = "no read-back in time; the event may be appended later".to_owned();
            let _ = flight
                .request
                .reply
                .send(Err(LedgerError::Unavailable(self.name, why)));
            if let Some(next) = self.next_of(&key) {
                self.start(next, failed).await;
            }
        }
    }
}

type Failures = mpsc::UnboundedSender<(String, Uuid, String)>;
