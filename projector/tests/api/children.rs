//! The real `projector` binary as a child process of a test, configured for the test's
//! stack, to kill with SIGKILL in the middle of its work and start again.
//!
//! Set `ORDERFLOW_CRASH_TEST_LOGS=1` to see the children's logs.

use crate::helpers::{PARTITIONS, Stack, brokers, redis_url};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Stored next offsets, by partition.
pub(crate) type Offsets = BTreeMap<i32, i64>;

/// Records per batch of the children: small, so a backlog takes many batches.
const BATCH_MAX_RECORDS: &str = "500";

/// The configuration of projector processes on `stack`, as environment variables.
pub(crate) fn child_env(stack: &Stack) -> Vec<(&'static str, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = stack.settings();
    vec![
        ("ORDERFLOW_PROJECTOR_LISTEN", format!("127.0.0.1:{port}")),
        ("ORDERFLOW_KAFKA_BROKERS", brokers()),
        // A member that vanished without leaving is evicted from the group quickly, so
        // the second process gets the partitions without a long wait.
        (
            "ORDERFLOW_KAFKA_PROPERTIES",
            "session.timeout.ms=6000;heartbeat.interval.ms=500".into(),
        ),
        ("ORDERFLOW_TOPIC", stack.topic.clone()),
        ("ORDERFLOW_TOPIC_PARTITIONS", PARTITIONS.to_string()),
        ("ORDERFLOW_PROJECTOR_GROUP", settings.group),
        ("ORDERFLOW_DATABASE_URL", stack.database_url.clone()),
        ("ORDERFLOW_REDIS_URL", redis_url()),
        ("ORDERFLOW_REDIS_PREFIX", stack.redis_prefix.clone()),
        // Generous, so a slow debug build does not give up cache writes the test checks.
        ("ORDERFLOW_REDIS_TIMEOUT_MS", "2000".into()),
        ("ORDERFLOW_SCHEMA_REGISTRY_URL", stack.registry.url.clone()),
        (
            "ORDERFLOW_PROJECTOR_BATCH_MAX_RECORDS",
            BATCH_MAX_RECORDS.into(),
        ),
        ("ORDERFLOW_PROJECTOR_BATCH_MAX_WAIT_MS", "20".into()),
        (
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        ),
    ]
}

/// A `projector` child process, killed when dropped (also when the test panics).
pub(crate) struct Projector {
    child: Option<Child>,
}

impl Projector {
    pub(crate) fn start(env: &[(&'static str, String)]) -> Projector {
        Self::start_with(env, &[], None)
    }

    /// Runs `projector <args>`; with `capture`, its standard output (logs included) goes to
    /// that file.
    pub(crate) fn start_with(
        env: &[(&'static str, String)],
        args: &[&str],
        capture: Option<&std::path::Path>,
    ) -> Projector {
        let logs = std::env::var_os("ORDERFLOW_CRASH_TEST_LOGS").is_some();
        let output = || {
            if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(env!("CARGO_BIN_EXE_projector"))
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(match capture {
                Some(path) => std::fs::File::create(path).expect("capture file").into(),
                None => output(),
            })
            .stderr(output())
            .spawn()
            .expect("starting the projector binary");
        Projector { child: Some(child) }
    }

    /// Waits (without blocking the test's runtime, which serves the registry) for the
    /// process to exit on its own.
    pub(crate) async fn finish(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the projector") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the projector did not finish in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `offsets` (the stored next offsets, by partition) until a quarter of the
    /// `total` records are folded, and returns them: a moment to kill the process half way.
    /// Meanwhile the process must stay alive and not fold everything (the backlog would be
    /// too small to kill it half way), and it must get a quarter in `within`.
    pub(crate) async fn wait_a_quarter_in(
        &mut self,
        what: &str,
        total: i64,
        within: Duration,
        offsets: impl AsyncFn() -> Offsets,
    ) -> Offsets {
        let a_quarter_in = |stored: &Offsets| {
            let done: i64 = stored.values().sum();
            assert!(
                done < total,
                "{what} finished the whole backlog ({total} records) before it could be \
                 killed: make the backlog bigger"
            );
            done >= total / 4
        };
        let late = |_: &Offsets| format!("{what} did not fold a quarter of the backlog in time");
        let every = Duration::from_millis(5);
        self.poll(offsets, every, within, a_quarter_in, late).await
    }

    /// Polls `offsets` until they reach `ends` in every partition, and returns them; the
    /// process must stay alive and get there `within`.
    pub(crate) async fn wait_folded_to(
        &mut self,
        ends: &Offsets,
        within: Duration,
        offsets: impl AsyncFn() -> Offsets,
    ) -> Offsets {
        let at_the_ends = |stored: &Offsets| {
            ends.iter()
                .all(|(p, end)| stored.get(p).copied().unwrap_or(0) >= *end)
        };
        let late = |stored: &Offsets| {
            format!("not projected in time: stored {stored:?}, log ends at {ends:?}")
        };
        let every = Duration::from_millis(50);
        self.poll(offsets, every, within, at_the_ends, late).await
    }

    /// Polls `offsets` `every` so often until `done` holds of them, and returns them. The
    /// process must stay alive meanwhile, and `done` must hold `within`: else the test
    /// fails with what `late` says.
    async fn poll(
        &mut self,
        offsets: impl AsyncFn() -> Offsets,
        every: Duration,
        within: Duration,
        done: impl Fn(&Offsets) -> bool,
        late: impl Fn(&Offsets) -> String,
    ) -> Offsets {
        let deadline = Instant::now() + within;
        loop {
            self.assert_alive();
            let stored = offsets().await;
            if done(&stored) {
                return stored;
            }
            assert!(Instant::now() < deadline, "{}", late(&stored));
            tokio::time::sleep(every).await;
        }
    }

    pub(crate) fn assert_alive(&mut self) {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the projector exited on its own: {status} (ORDERFLOW_CRASH_TEST_LOGS=1 shows its logs)"
            );
        }
    }

    /// SIGKILL (on Unix), then reaps the process.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("killing the projector");
            child.wait().expect("reaping the projector");
        }
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
