//! A command load that records every answer: concurrent writers placing orders, each
//! attempt tagged with the phase of the broker's outage it was sent in.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Where the test was when a command was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The broker serves.
    Before = 0,
    /// Killed or frozen, until the broker was seen back (it may serve a moment before).
    Outage = 1,
    /// Back: restarted and ready, or thawed.
    Back = 2,
}

/// A 201's body: the order and where its event is in the log.
#[derive(Debug, Clone)]
pub struct Ack {
    pub order_id: String,
    pub version: u64,
    pub partition: i32,
    pub offset: i64,
    /// `Idempotent-Replayed`: answered from the log for a key seen before.
    pub replayed: bool,
}

/// What the command service answered to one attempt.
#[derive(Debug, Clone)]
pub enum Answer {
    Acked(Ack),
    /// 503 with a `Retry-After`.
    Unavailable,
    /// No HTTP answer.
    Transport(String),
    /// Any other answer, including a 503 without `Retry-After`.
    Other(String),
}

/// One attempt of a command.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub phase: Phase,
    pub key: String,
    pub answer: Answer,
}

impl Attempt {
    pub fn ack(&self) -> Option<&Ack> {
        match &self.answer {
            Answer::Acked(ack) => Some(ack),
            _ => None,
        }
    }

    /// What was wrong with the answer: neither a 201 nor a 503 with `Retry-After`.
    pub fn problem(&self) -> Option<String> {
        match &self.answer {
            Answer::Transport(e) => Some(format!("{}: no answer: {e}", self.key)),
            Answer::Other(answer) => Some(format!("{}: {answer}", self.key)),
            _ => None,
        }
    }
}

/// Concurrent writers placing orders, each order with a new `Idempotency-Key`; after a 503
/// the same command is sent again (same key) after `Retry-After`, as a client should.
/// `per_key` writers share each key, sending it at the same time: a second request for an
/// order waits in the command service behind the first (a client retrying on its own
/// timeout while its first request is still pending).
pub struct Load {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(commands: &str, writers: usize, per_key: usize) -> Load {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .default_headers(orderflow_testkit::TestIssuer::shared().operator_headers())
            .build()
            .unwrap();
        let mut load = Load {
            phase: Arc::default(),
            stop: Arc::default(),
            attempts: Arc::default(),
            tasks: Vec::new(),
        };
        let new_key = || Arc::new(Mutex::new(Uuid::new_v4().to_string()));
        let keys: Vec<_> = (0..writers.div_ceil(per_key)).map(|_| new_key()).collect();
        for writer in 0..writers {
            let (client, url) = (client.clone(), format!("{commands}/orders"));
            let (phase, stop) = (load.phase.clone(), load.stop.clone());
            let (attempts, shared) = (load.attempts.clone(), keys[writer / per_key].clone());
            load.tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let key = shared.lock().unwrap().clone();
                    let sent = [Phase::Before, Phase::Outage, Phase::Back]
                        [phase.load(Ordering::SeqCst) as usize];
                    let (answer, wait) = place(&client, &url, &key).await;
                    let acked = matches!(answer, Answer::Acked(_));
                    let attempt = Attempt {
                        phase: sent,
                        key: key.clone(),
                        answer,
                    };
                    attempts.lock().unwrap().push(attempt);
                    if acked {
                        let mut next = shared.lock().unwrap();
                        if *next == key {
                            *next = Uuid::new_v4().to_string();
                        }
                    }
                    tokio::time::sleep(wait).await;
                }
            }));
        }
        load
    }

    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// Waits until a new order sent in `phase` was acknowledged and `/readyz` answers 200;
    /// returns how long that took.
    pub async fn wait_acked(&self, phase: Phase, commands: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        let (client, mut readyz) = (reqwest::Client::new(), String::new());
        while started.elapsed() < limit {
            let acked = self
                .attempts
                .lock()
                .unwrap()
                .iter()
                .any(|a| a.phase == phase && a.ack().is_some_and(|ack| !ack.replayed));
            let (ready, body) = match client.get(format!("{commands}/readyz")).send().await {
                Ok(r) => (r.status() == 200, r.text().await.unwrap_or_default()),
                Err(e) => (false, e.to_string()),
            };
            if acked && ready {
                return started.elapsed();
            }
            readyz = body;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no new order acknowledged within {limit:?} of the broker's return; /readyz: {readyz}"
        );
    }

    /// Stops the writers (each finishes its attempt) and returns every attempt.
    pub async fn stop(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.unwrap();
        }
        Arc::try_unwrap(self.attempts)
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

/// One `POST /orders` and how long to wait before the next attempt.
async fn place(client: &reqwest::Client, url: &str, key: &str) -> (Answer, Duration) {
    let body = json!({"customer_id": "cust-load", "shipping_address": "1 Main St",
        "items": [{"product_id": "sku-load", "quantity": 1, "unit_price": "9.99"}]});
    let request = client.post(url).header("Idempotency-Key", key).json(&body);
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (Answer::Transport(e.to_string()), Duration::from_millis(200)),
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = response.text().await.unwrap_or_default();
    match (status, retry_after) {
        (201, _) => {
            let b: Value = serde_json::from_str(&text).unwrap_or_default();
            let ack = Ack {
                order_id: b["order_id"].as_str().unwrap_or_default().to_owned(),
                version: b["version"].as_u64().unwrap_or_default(),
                partition: b["position"]["partition"].as_i64().unwrap_or(-1) as i32,
                offset: b["position"]["offset"].as_i64().unwrap_or(-1),
                replayed,
            };
            (Answer::Acked(ack), Duration::from_millis(10))
        }
        (503, Some(after)) => {
            let secs = after.to_str().map_or(1, |s| s.parse().unwrap_or(1));
            let wait = Duration::from_secs(secs).min(Duration::from_secs(2));
            (Answer::Unavailable, wait)
        }
        _ => (
            Answer::Other(format!("{status}: {text}")),
            Duration::from_millis(200),
        ),
    }
}
