//! The polling thread of one group member: it polls the consumer (which runs the rebalance
//! callback, see `consumer`), copies each message into a plain [`Record`] and cuts the
//! records into batches for the decoder.

use crate::live::consumer::{Feed, GroupConsumer};
use crate::live::record::Record;
use orderflow_platform::log_gone;
use orderflow_platform::telemetry::record_trace;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Least time between two warnings about polling errors (librdkafka retries by itself).
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Polls until `stop` is cancelled (or until the log is gone: then `/readyz` says why and
/// this member stops, rather than skip anything), handing over batches of up to
/// `max_records` records. A batch is handed over as soon as no further record is waiting,
/// and at most `max_wait` after its first record: at a low rate each record goes on at
/// once, under load the records that queued while the batch loop was busy go together
/// (batches grow with the load instead of every record waiting for a timer). Runs on its
/// own thread; the token is checked there with a plain, synchronous look.
pub fn poll_loop(
    consumer: Arc<GroupConsumer>,
    feed: mpsc::Sender<Feed>,
    max_records: usize,
    max_wait: Duration,
    stop: CancellationToken,
) {
    let mut batch: Vec<Record> = Vec::with_capacity(max_records);
    let mut first_at = Instant::now();
    let mut last_error: Option<Instant> = None;
    // A closed feed means the batch loop is gone (stopped or aborted): leave the group.
    while !stop.is_cancelled() && !feed.is_closed() {
        let timeout = if batch.is_empty() {
            Duration::from_millis(100)
        } else {
            Duration::ZERO
        };
        let rebalances = consumer.context().rebalances();
        let polled = consumer.poll(timeout);
        let drained = polled.is_none();
        if consumer.context().rebalances() != rebalances {
            // A rebalance ran inside this poll: what was polled before it belongs to the
            // old assignment and will be fetched again from the stored offsets.
            batch.clear();
        }
        match polled {
            Some(Ok(message)) => {
                if batch.is_empty() {
                    first_at = Instant::now();
                }
                batch.push(record_of(&message));
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                let records = std::mem::replace(&mut batch, Vec::with_capacity(max_records));
                if (!records.is_empty() && feed.blocking_send(Feed::Batch(records)).is_err())
                    || feed.blocking_send(Feed::EndOfPartition(partition)).is_err()
                {
                    return;
                }
                continue;
            }
            Some(Err(e)) if log_is_gone(&consumer, &e, &mut last_error) => return,
            Some(Err(_)) | None => {}
        }
        let full = batch.len() >= max_records;
        if !batch.is_empty() && (full || drained || first_at.elapsed() >= max_wait) {
            let records = std::mem::replace(&mut batch, Vec::with_capacity(max_records));
            if feed.blocking_send(Feed::Batch(records)).is_err() {
                return;
            }
        }
    }
}

/// Whether polling failed because the log is gone (then `/readyz` says why). Other errors
/// are only logged, at most every [`LOG_INTERVAL`]: librdkafka retries by itself.
fn log_is_gone(consumer: &GroupConsumer, e: &KafkaError, last: &mut Option<Instant>) -> bool {
    let context = consumer.context();
    if let Some(failure) = log_gone(context.topic(), e) {
        context.health().fail(failure);
        return true;
    }
    if last.is_none_or(|at| at.elapsed() > LOG_INTERVAL) {
        tracing::warn!(error = %e, "polling the log failed");
        *last = Some(Instant::now());
    }
    false
}

/// Copies what the projector needs out of librdkafka's message.
fn record_of(message: &BorrowedMessage<'_>) -> Record {
    Record {
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis(),
        trace: message.headers().and_then(record_trace),
    }
}
