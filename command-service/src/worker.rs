//! One worker per partition: the single writer for its orders.
//!
//! A worker owns the aggregates of its partition and handles two kinds of message in one
//! loop, so no lock is ever taken: commands from the HTTP layer and records read back from
//! the log. Commands for one order are serialized (the next one waits until the previous
//! event has been read back); commands for different orders are pipelined, with many
//! records in flight and no flush or awaited send per request. A command is acknowledged
//! only when the worker reads its own event back and the fold accepts it.

use crate::aggregates::{Ack, Aggregates, CommandRequest};
use crate::decode::read_back;
use crate::doubt::{Doubt, Doubts};
use crate::error::CommandError;
use crate::log::{Appender, DeliveryFailure, Reader};
use crate::metrics::{self, PartitionReport};
use crate::ownership::moved;
use crate::ownership::partitions::Held;
use crate::readiness::Readiness;
use orderflow_auth::Principal;
use orderflow_domain::{Event, EventMeta, FoldOutcome, Order, Timestamp, decide};
use orderflow_platform::telemetry::kafka_headers;
use orderflow_schemas::EventCodec;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseRecord, Producer};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::Span;
use uuid::Uuid;

mod endings;

/// Where a command's answer goes.
pub type Reply = oneshot::Sender<Result<Ack, CommandError>>;

/// What a worker receives.
pub enum WorkerMsg {
    Command(CommandRequest, Reply),
    Record(OwnedMessage),
    /// The reader reached the end of the partition: everything up to here is folded.
    EndOfLog,
    /// The group assigned the partition here (again), as its assignment number `n`:
    /// replay it from offset 0, the records follow.
    Assigned(u64),
    /// The group took the partition away: answer what waits with 503 and forget it.
    Revoked,
    /// The current aggregate state of an order, if the caller may see it.
    Inspect(
        String,
        Principal,
        oneshot::Sender<Result<Order, CommandError>>,
    ),
}

/// Most commands that may wait behind one order's in-flight command.
const MAX_WAITING_PER_ORDER: usize = 256;

/// What a worker shares with the rest of the service.
pub struct WorkerContext {
    pub topic: String,
    /// Partitions of the topic, to check that each record is where its key belongs.
    pub partitions: i32,
    pub producer: Appender,
    /// The reader, asked for the end of the partition when a delivery's fate is unknown.
    pub reader: Arc<Reader>,
    pub codec: Arc<EventCodec>,
    pub readiness: Arc<Readiness>,
    pub command_timeout: Duration,
    /// Most location updates one order may take.
    pub max_locations: u32,
}

/// The one command of an order whose event is on its way. After its deadline the client
/// gets 503, but the order stays blocked until the event is read back or its delivery
/// fails, so no later command is decided against a state the log may be about to change.
struct InFlight {
    event: Event,
    /// The bytes handed to the producer: a record with these bytes is this event (they
    /// hold its unique id), so its read-back is folded without decoding it again.
    payload: Vec<u8>,
    created: bool,
    reply: Option<Reply>,
    deadline: Instant,
    /// When the event went to the producer.
    appended: Instant,
    /// The command's span in the request's trace, ended when the command is settled: its
    /// length is the append latency (hand-off to the producer, then read back).
    _span: Span,
}

#[derive(Default)]
struct OrderQueue {
    in_flight: Option<InFlight>,
    waiting: VecDeque<(CommandRequest, Reply)>,
}

/// The worker of one partition.
pub struct Worker {
    partition: i32,
    /// The assignment this worker replays or serves: an end of the log it reads before
    /// the reset of a newer one does not make that one ready.
    assignment: u64,
    replayed: bool,
    aggregates: Aggregates,
    queues: HashMap<String, OrderQueue>,
    /// The offset after the last record read back.
    next_offset: i64,
    /// Failed deliveries that may be in the log, waiting for the reader (see `doubt`).
    doubts: Doubts,
    ends: mpsc::UnboundedSender<(Doubt, i64)>,
    ends_answered: mpsc::UnboundedReceiver<(Doubt, i64)>,
    ctx: Arc<WorkerContext>,
    report: PartitionReport,
}

impl Worker {
    pub fn new(partition: i32, ctx: Arc<WorkerContext>) -> Self {
        let (ends, ends_answered) = mpsc::unbounded_channel();
        Worker {
            partition,
            assignment: 0,
            replayed: false,
            aggregates: Aggregates::new(partition, ctx.max_locations),
            queues: HashMap::new(),
            next_offset: 0,
            doubts: Doubts::default(),
            ends,
            ends_answered,
            ctx,
            report: PartitionReport::default(),
        }
    }

    /// Runs until the channel closes (shutdown). `failed` brings the records of this
    /// partition the broker did not take.
    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<WorkerMsg>,
        mut failed: mpsc::UnboundedReceiver<DeliveryFailure>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(WorkerMsg::Command(request, reply)) => self.on_command(request, reply).await,
                    Some(WorkerMsg::Record(record)) => self.on_record(record).await,
                    Some(WorkerMsg::EndOfLog) => self.mark_replayed(),
                    Some(WorkerMsg::Assigned(n)) => {
                        self.assignment = n;
                        self.forget("the partition is being replayed");
                    }
                    Some(WorkerMsg::Revoked) => self.forget("the partition moved to another instance"),
                    Some(WorkerMsg::Inspect(order_id, caller, reply)) => {
                        let answer = if self.replayed { self.aggregates.inspect(&order_id, &caller) } else { Err(CommandError::Replaying) };
                        let _ = reply.send(answer);
                    }
                    None => break,
                },
                Some(failure) = failed.recv() => {
                    self.fail_in_flight(failure).await;
                    if let Some(fatal) = self.ctx.producer.client().fatal_error() {
                        // The idempotent producer cannot go on; ending this worker makes
                        // the supervisor restart the log side with a new producer.
                        tracing::error!(?fatal, partition = self.partition, "producer failed fatally");
                        break;
                    }
                }
                Some((doubt, end)) = self.ends_answered.recv() => {
                    self.doubts.settle_at(doubt, end);
                    self.settle_doubts().await;
                }
                _ = tick.tick() => {
                    self.expire_in_flight();
                    self.report.report(self.aggregates.len());
                }
            }
        }
    }

    fn mark_replayed(&mut self) {
        if !self.replayed {
            self.replayed = true;
            self.ctx
                .readiness
                .partition_replayed(self.partition, self.assignment);
            self.report.report(self.aggregates.len());
            tracing::info!(
                partition = self.partition,
                orders = self.aggregates.len(),
                "partition replayed from the log"
            );
        }
    }

    async fn on_command(&mut self, request: CommandRequest, reply: Reply) {
        if !self.replayed {
            let _ = reply.send(Err(CommandError::Replaying));
            return;
        }
        if self.ctx.readiness.held(self.partition) != Held::Serving {
            let _ = reply.send(Err(moved()));
            return;
        }
        let order_id = request.order_id.clone();
        let queue = self.queues.entry(order_id.clone()).or_default();
        if queue.waiting.len() >= MAX_WAITING_PER_ORDER {
            let _ = reply.send(Err(CommandError::Overloaded));
            return;
        }
        queue.waiting.push_back((request, reply));
        self.drain(&order_id).await;
    }

    /// Decides and appends one command whose order has nothing in flight; leaves it in
    /// flight when an event was handed to the producer.
    async fn start(&mut self, request: CommandRequest, reply: Reply) {
        // The partition may have been revoked since the command waited: no append, and no
        // answer from state the new owner decides on now.
        if self.ctx.readiness.held(self.partition) != Held::Serving {
            let _ = reply.send(Err(moved()));
            return;
        }
        if let Some(answer) = self.aggregates.answer_without_appending(&request) {
            let _ = reply.send(answer);
            return;
        }
        // Decide, append and read back: one span, not one each, since a span costs about
        // a microsecond and the worker's loop is the service's bottleneck. Never entered:
        // OpenTelemetry would end it at its last exit rather than when it is settled.
        let span =
            tracing::info_span!(parent: &request.span, "command", order_id = %request.order_id);
        let order = self.aggregates.order(&request.order_id);
        let meta = EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: now(),
            idempotency_key: request.idempotency_key.clone(),
            correlation_id: request.correlation_id.clone(),
        };
        let event = match decide(&order, &request.command, meta) {
            Ok(event) => event,
            Err(e) => {
                let _ = reply.send(Err(CommandError::from_domain(&request.order_id, e)));
                return;
            }
        };
        match self.append(&event, &span).await {
            Ok(payload) => {
                let appended = Instant::now();
                let in_flight = InFlight {
                    event,
                    payload,
                    created: order.version == 0,
                    reply: Some(reply),
                    deadline: appended + self.ctx.command_timeout,
                    appended,
                    _span: span,
                };
                self.queues.entry(request.order_id).or_default().in_flight = Some(in_flight);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Encodes and hands the event to the producer without waiting for the broker;
    /// returns the bytes sent. The record's headers carry `span`'s trace context on to
    /// the projector.
    async fn append(&mut self, event: &Event, span: &Span) -> Result<Vec<u8>, CommandError> {
        let payload = self
            .ctx
            .codec
            .encode(event)
            .await
            .map_err(|e| CommandError::Unavailable(e.to_string()))?;
        let mut record = BaseRecord::to(&self.ctx.topic)
            .partition(self.partition)
            .key(event.order_id.as_bytes())
            .payload(&payload);
        if let Some(headers) = kafka_headers(span) {
            record = record.headers(headers);
        }
        self.ctx.producer.send(record).map_err(|(e, _)| {
            tracing::warn!(error = %e, "producer queue refused a record");
            CommandError::Overloaded
        })?;
        Ok(payload)
    }

    async fn on_record(&mut self, record: OwnedMessage) {
        let offset = record.offset();
        self.next_offset = offset + 1;
        self.ctx.readiness.count_folded();
        if !self.replayed {
            self.report.folded_while_replaying();
        }
        let event = match self.own_event(&record) {
            Some(event) => Some(event),
            None => read_back(&self.ctx, &record).await,
        };
        if let Some(event) = event {
            let outcome = self.aggregates.fold(&event, offset);
            if outcome != FoldOutcome::Accepted {
                self.ctx.readiness.count_ignored();
                tracing::warn!(partition = self.partition, offset, order_id = %event.order_id, version = event.version, ?outcome, "event ignored by the fold");
            }
            self.settle(&event, offset, outcome).await;
        }
        self.settle_doubts().await;
    }

    /// The in-flight event `record` carries, when the record holds exactly the bytes this
    /// worker appended for it: decoding them would only give back the event it has.
    fn own_event(&self, record: &OwnedMessage) -> Option<Event> {
        let order_id = std::str::from_utf8(record.key()?).ok()?;
        let in_flight = self.queues.get(order_id)?.in_flight.as_ref()?;
        (record.payload()? == in_flight.payload.as_slice()).then(|| in_flight.event.clone())
    }

    /// Answers the command whose event this is, if it is ours.
    async fn settle(&mut self, event: &Event, offset: i64, outcome: FoldOutcome) {
        let Some(queue) = self.queues.get_mut(&event.order_id) else {
            return;
        };
        let Some(in_flight) = queue
            .in_flight
            .take_if(|f| f.event.meta.event_id == event.meta.event_id)
        else {
            return;
        };
        let answer = if self.ctx.readiness.held(self.partition) != Held::Serving {
            // The partition was revoked: its new owner decides from here (ADR 0015).
            Err(moved())
        } else if outcome == FoldOutcome::Accepted {
            metrics::append_confirmed(in_flight.appended.elapsed());
            Ok(Ack {
                order_id: event.order_id.clone(),
                status: event.kind.resulting_status(),
                version: event.version,
                event_id: event.meta.event_id,
                partition: self.partition,
                offset,
                created: in_flight.created,
                replayed: false,
            })
        } else {
            Err(CommandError::ConcurrentWrite {
                order_id: event.order_id.clone(),
                version: event.version,
            })
        };
        if let Some(reply) = in_flight.reply {
            let _ = reply.send(answer);
        }
        self.drain(&event.order_id).await;
    }

    /// Starts waiting commands of `order_id` until one is in flight, or forgets the
    /// emptied queue. Commands answered without an append are handled in this loop.
    async fn drain(&mut self, order_id: &str) {
        while let Some(queue) = self.queues.get_mut(order_id) {
            if queue.in_flight.is_some() {
                return;
            }
            let Some((request, reply)) = queue.waiting.pop_front() else {
                self.queues.remove(order_id);
                return;
            };
            self.start(request, reply).await;
        }
    }
}

fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Timestamp(millis as i64)
}
