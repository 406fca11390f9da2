//! The load generator: keep-alive HTTP/1.1 connections driven in one of two ways.
//!
//! - **Closed loop**: N clients, each sending its next request as soon as the previous one
//!   is answered. It finds the throughput; its latencies are those of a saturated server.
//! - **Open loop**: requests start on a fixed schedule (one every 1/rate seconds) whether or
//!   not earlier ones have been answered, and each latency is measured from the *scheduled*
//!   start. A server that stalls therefore shows its stall in every request scheduled
//!   behind it, instead of the generator quietly waiting (coordinated omission).
//!
//! A [`Workload`] says what one operation is; the loops run it and record each latency
//! into an hdrhistogram.

use crate::stats::{Recorder, Summary};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How one operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as the workload expects.
    Ok,
    /// Answered with this unexpected status, or 0 when the connection failed.
    Failed(u16),
    /// The workload has nothing left to do (e.g. every distinct id was requested once).
    Exhausted,
}

/// One kind of operation against the system under test.
pub trait Workload: Send + Sync + 'static {
    /// One client: its connection and what it carries from one operation to the next
    /// (an order in mid-lifecycle, say).
    type Client: Send + 'static;

    /// Opens a client.
    fn connect(&self) -> impl Future<Output = anyhow::Result<Self::Client>> + Send;

    /// Runs one operation. A client whose connection failed reconnects itself.
    fn run(&self, client: &mut Self::Client) -> impl Future<Output = Outcome> + Send;
}

/// Closed loop: `clients` connections, each running operations back to back for
/// `duration`, after `warm_up` whose samples are dropped (connections, caches and batches
/// settle first). It ends early when every client has run out of work.
pub async fn closed_loop<W: Workload>(
    clients: usize,
    warm_up: Duration,
    duration: Duration,
    workload: Arc<W>,
) -> anyhow::Result<Summary> {
    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(warm_up.is_zero()));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut client = workload.connect().await?;
        let (workload, stop, recording) = (workload.clone(), stop.clone(), recording.clone());
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let outcome = workload.run(&mut client).await;
                if outcome == Outcome::Exhausted {
                    break;
                }
                if recording.load(Ordering::Relaxed) {
                    rec.record(started.elapsed(), outcome);
                }
            }
            rec
        }));
    }
    sleep_unless_done(&tasks, warm_up).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    sleep_unless_done(&tasks, duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let mut total = Recorder::new();
    for task in tasks {
        total.merge(&task.await?);
    }
    Ok(total.summary(elapsed))
}

/// Open loop: one operation scheduled every `1/rate` seconds for `duration`, run on a pool
/// of `connections` keep-alive connections. An operation that finds no idle connection
/// waits for one, and that wait counts in its latency.
pub async fn open_loop<W: Workload>(
    connections: usize,
    rate: f64,
    duration: Duration,
    workload: Arc<W>,
) -> anyhow::Result<Summary> {
    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel();
    for _ in 0..connections {
        // The receiver lives until the end of this function, so the send cannot fail.
        let _ = idle_tx.send(workload.connect().await?);
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Duration, Outcome)>();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * duration.as_secs_f64()) as u64;
    let collector = tokio::spawn(async move {
        let mut rec = Recorder::new();
        while let Some((latency, outcome)) = done_rx.recv().await {
            rec.record(latency, outcome);
        }
        rec
    });
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        // Taken after the scheduled time: a wait for a connection is part of the latency.
        let Some(mut client) = idle_rx.recv().await else {
            break;
        };
        let (workload, idle_tx, done_tx) = (workload.clone(), idle_tx.clone(), done_tx.clone());
        tokio::spawn(async move {
            let outcome = workload.run(&mut client).await;
            if outcome != Outcome::Exhausted {
                let _ = done_tx.send((due.elapsed(), outcome));
            }
            let _ = idle_tx.send(client);
        });
    }
    drop(done_tx);
    // Every scheduled operation finishes (or times out in the server) before the summary.
    let rec = collector.await?;
    Ok(rec.summary(started.elapsed().max(duration)))
}

/// Sleeps for `duration`, or less if every client ran out of work.
async fn sleep_unless_done<T>(tasks: &[tokio::task::JoinHandle<T>], duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(20).min(duration)).await;
    }
}

/// The `n`-th pick from a set of `len` items: a multiplicative step scatters consecutive
/// picks over the whole set, so concurrent clients do not walk it in lockstep.
pub fn scatter(n: usize, len: usize) -> usize {
    n.wrapping_mul(2_654_435_761) % len
}
