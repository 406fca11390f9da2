//! The two stages around the batch loop, so the projector's CPU work overlaps with
//! Postgres instead of waiting for it:
//!
//! - the **decoder** decodes each batch as soon as the polling thread hands it over, while
//!   the batch before it is still in its transaction;
//! - the **cache writer** writes committed orders through to Redis while the next batch is
//!   already in Postgres.
//!
//! Both keep the order of what they are given, and both are bounded channels, so a slow
//! stage holds the others back instead of buffering without limit.

use crate::fold::model::OrderView;
use crate::live::consumer::Feed;
use crate::live::ports::Decoder;
use crate::live::record::Record;
use crate::sinks::redis::Cache;
use orderflow_domain::Event;
use orderflow_schemas::CodecError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, Span};

/// Batches decoded ahead of the one in its transaction.
const DECODED_AHEAD: usize = 2;
/// Committed batches whose cache writes may wait behind the one being written.
const CACHE_QUEUE: usize = 4;
/// How often documents a Redis outage left pending are retried when no batch comes.
const CACHE_RETRY: Duration = Duration::from_secs(1);

/// What the batch loop receives: the feed (see [`Feed`]), each batch with its records
/// decoded, everything in the feed's order.
pub enum Staged {
    Assigned(HashMap<i32, i64>),
    Revoked(Vec<i32>, std::sync::mpsc::SyncSender<()>),
    Batch(Vec<Record>, Vec<Result<Event, CodecError>>),
    EndOfPartition(i32),
}

/// Starts the decoder: it ends when the feed closes or the batch loop is gone.
pub fn spawn_decoder<D: Decoder>(
    codec: Arc<D>,
    mut feed: mpsc::Receiver<Feed>,
) -> mpsc::Receiver<Staged> {
    let (tx, rx) = mpsc::channel(DECODED_AHEAD);
    tokio::spawn(async move {
        while let Some(item) = feed.recv().await {
            let staged = match item {
                Feed::Batch(records) => {
                    let mut events = Vec::with_capacity(records.len());
                    for record in &records {
                        events.push(codec.decode(record.payload()).await);
                    }
                    Staged::Batch(records, events)
                }
                Feed::Assigned(offsets) => Staged::Assigned(offsets),
                Feed::Revoked(partitions, ack) => Staged::Revoked(partitions, ack),
                Feed::EndOfPartition(partition) => Staged::EndOfPartition(partition),
            };
            if tx.send(staged).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// A committed batch's orders, the next offsets of its partitions, and the batch's span
/// (the cache write is part of the batch's trace).
type CommittedBatch = (Vec<OrderView>, Vec<(i32, i64)>, Span);

/// The Redis write-through, in its own task.
pub struct CacheWriter {
    tx: mpsc::Sender<CommittedBatch>,
    task: JoinHandle<Cache>,
    /// Per partition, the offset below which every committed order is in Redis.
    confirmed: Arc<Mutex<HashMap<i32, i64>>>,
}

impl CacheWriter {
    /// Starts the task that owns `cache`.
    pub fn spawn(mut cache: Cache) -> Self {
        let (tx, mut rx) = mpsc::channel::<CommittedBatch>(CACHE_QUEUE);
        let confirmed = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn({
            let confirmed = confirmed.clone();
            async move {
                let mut retry = tokio::time::interval(CACHE_RETRY);
                loop {
                    tokio::select! {
                        batch = rx.recv() => match batch {
                            Some((views, offsets, batch)) => {
                                let refs: Vec<&OrderView> = views.iter().collect();
                                let span = tracing::info_span!(parent: &batch, "cache write", orders = refs.len());
                                cache.write(&refs).instrument(span).await;
                                // With documents pending (of any partition), nothing more
                                // is known to be in Redis.
                                if cache.is_clean() {
                                    lock(&confirmed).extend(offsets);
                                }
                            }
                            None => return cache,
                        },
                        _ = retry.tick() => cache.write(&[]).await,
                    }
                }
            }
        });
        CacheWriter {
            tx,
            task,
            confirmed,
        }
    }

    /// Queues the documents of a committed batch whose partitions now continue at
    /// `offsets`; waits only when the queue is full.
    pub async fn write(&self, views: Vec<OrderView>, offsets: Vec<(i32, i64)>) {
        if !views.is_empty() || !offsets.is_empty() {
            // The task only ends once this sender is dropped, in `finish`.
            let _ = self.tx.send((views, offsets, Span::current())).await;
        }
    }

    /// How far the cache is confirmed for each of `partitions` (`None`: not known yet),
    /// stored with the next batch's offsets (ADR 0010).
    pub fn confirmed(&self, partitions: &[i32]) -> Vec<Option<i64>> {
        let confirmed = lock(&self.confirmed);
        partitions
            .iter()
            .map(|p| confirmed.get(p).copied())
            .collect()
    }

    /// Waits until everything queued has been tried, and hands the cache back (with
    /// whatever Redis left pending).
    pub async fn finish(self) -> Cache {
        drop(self.tx);
        self.task.await.expect("the cache writer does not panic")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends the batches already waiting behind this one until it holds `max` records or
/// more (each batch holds at most `max`, so never twice that), so that they share one
/// transaction: at a low rate every batch goes alone, under load the batches
/// that queued while the last transaction ran go together instead of each paying for a
/// transaction of its own. Stops at the first item that is not a batch and returns it, to
/// be handled next (the feed's order is kept).
pub(crate) fn merge_waiting(
    records: &mut Vec<Record>,
    events: &mut Vec<Result<Event, CodecError>>,
    feed: &mut mpsc::Receiver<Staged>,
    max: usize,
) -> Option<Staged> {
    while records.len() < max {
        match feed.try_recv() {
            Ok(Staged::Batch(more_records, more_events)) => {
                records.extend(more_records);
                events.extend(more_events);
            }
            Ok(other) => return Some(other),
            Err(_) => return None,
        }
    }
    None
}
