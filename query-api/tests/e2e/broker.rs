//! A Kafka broker of the test's own, to kill, freeze and start again without disturbing the
//! shared one.
//!
//! The broker is the same single-node KRaft broker as the local stack's (scripts/lib.sh
//! start_kafka): the jars in `ORDERFLOW_KAFKA_LIBS`, the settings of
//! scripts/kafka/server.properties.template, readiness by scripts/kafka/Ready.java.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
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
