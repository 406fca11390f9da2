//! A Kafka broker of the test's own, to kill, freeze and start again without disturbing the
//! shared one; and a command load that records every answer.
//!
//! The broker is the same single-node KRaft broker as the local stack's (scripts/lib.sh
//! start_kafka): the jars in `ORDERFLOW_KAFKA_LIBS`, the settings of
//! scripts/kafka/server.properties.template, readiness by scripts/kafka/Ready.java.

use serde_json::{Value, json};
use std::fs::OpenOptions;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const TEMPLATE: &str = include_str!("../../../scripts/kafka/server.properties.template");
const READY_WAIT_SECS: &str = "60";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka")
}

fn free_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Runs a blocking closure off the runtime's threads (the stack runs on them).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A single-node broker in a temporary directory: killed and removed on drop (the
/// directory, with the broker's log, is kept when the test fails).
pub struct OwnBroker {
    libs: String,
    dir: PathBuf,
    port: u16,
    cluster_id: String,
    child: Option<Child>,
    frozen: bool,
}

impl OwnBroker {
    /// Formats a fresh data directory and starts the broker on free ports.
    pub async fn start() -> OwnBroker {
        let libs = std::env::var("ORDERFLOW_KAFKA_LIBS").unwrap_or_else(|_| {
            panic!(
                "ORDERFLOW_KAFKA_LIBS is not set: run scripts/test.sh (it exports the directory \
                 of the Kafka jars, ~/.cache/orderflow/kafka-<version>/libs)"
            )
        });
        let dir = std::env::temp_dir().join(format!("orderflow-broker-{}", Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        // Both bound at once so they differ; released before the broker binds them.
        let (port, controller) = {
            let ((_a, port), (_b, controller)) = (free_port(), free_port());
            (port, controller)
        };
        let props = TEMPLATE
            .replace("@KAFKA_PORT@", &port.to_string())
            .replace("@KAFKA_CONTROLLER_PORT@", &controller.to_string())
            .replace("@KAFKA_DATA_DIR@", dir.join("data").to_str().unwrap());
        std::fs::write(dir.join("server.properties"), props).unwrap();
        let mut broker = OwnBroker {
            libs,
            dir,
            port,
            cluster_id: String::new(),
            child: None,
            frozen: false,
        };
        let id = broker.tool(&["kafka.tools.StorageTool", "random-uuid"]);
        let (id, props) = (id.trim().to_owned(), broker.props());
        broker.tool(&["kafka.tools.StorageTool", "format", "-t", &id, "-c", &props]);
        broker.cluster_id = id;
        broker.restart().await;
        broker
    }

    /// `host:port` of the broker's client listener; the same across restarts.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no clean shutdown, nothing flushed by the broker itself.
    pub fn kill(&mut self) {
        if self.frozen {
            // A stopped process dies of SIGKILL too; thawed first all the same, so nothing
            // is left stopped should the kill fail. Not asserted: this runs on drop.
            let _ = self.signal("CONT");
            self.frozen = false;
        }
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGSTOP: the broker answers nothing but keeps its connections open, and what the
    /// clients send meanwhile waits in its sockets (a long GC pause, a stalled disk).
    pub fn freeze(&mut self) {
        assert!(!self.frozen, "the broker is frozen already");
        self.signal("STOP").unwrap();
        self.frozen = true;
    }

    /// SIGCONT: the frozen broker goes on where it stopped.
    pub fn thaw(&mut self) {
        assert!(self.frozen, "the broker is not frozen");
        self.signal("CONT").unwrap();
        self.frozen = false;
    }

    /// Sends `SIG<name>` to the broker process with kill(1) (no libc in the tests).
    fn signal(&self, name: &str) -> Result<(), String> {
        let pid = self.child.as_ref().ok_or("the broker is not running")?.id();
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .map_err(|e| format!("kill -{name} {pid}: {e}"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -{name} {pid}: {status}"))
    }

    /// Starts the broker (again) on its data directory, same ports, and waits until it
    /// answers metadata requests as this cluster (scripts/kafka/Ready.java).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("broker.log"))
            .unwrap();
        let child = Command::new("java")
            .args("-Xms256m -Xmx256m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError".split(' '))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                scripts().join("log4j2.yaml").display()
            ))
            .args(["-cp", &self.classpath(), "kafka.Kafka", &self.props()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start java (is a JDK on PATH?)");
        let mut ready = Command::new("java");
        ready
            .args(["-cp", &self.classpath()])
            .arg(scripts().join("Ready.java"))
            .arg(self.bootstrap())
            .args(["--cluster-id", &self.cluster_id, "--wait", READY_WAIT_SECS])
            .args(["--pid", &child.id().to_string()]);
        self.child = Some(child);
        let started = Instant::now();
        let status = blocking(move || ready.output().unwrap().status).await;
        if !status.success() {
            let log = std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default();
            let tail = &log[log.len().saturating_sub(4000)..];
            panic!(
                "own broker not ready ({status}) after {:?}:\n{tail}",
                started.elapsed()
            );
        }
    }

    fn classpath(&self) -> String {
        format!("{}/*", self.libs)
    }

    fn props(&self) -> String {
        self.dir.join("server.properties").display().to_string()
    }

    /// Runs a Kafka tool class to completion and returns its standard output.
    fn tool(&self, args: &[&str]) -> String {
        let output = Command::new("java")
            .args(["-cp", &self.classpath()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("own broker's directory kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

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
