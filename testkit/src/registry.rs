//! The Schema Registry of a test.
//!
//! Most tests share the stack's registry: every test writes its own topic, and subjects
//! are named after the topic (TopicRecordNameStrategy), so tests never see each other's
//! subjects. A test that needs a registry to go away or come up starts one of its own:
//! an Apicurio process with in-memory storage, killed when the handle drops.
//!
//! The stack's registry takes writes (registering, levels, deletes) only with a credential,
//! `ORDERFLOW_SCHEMA_REGISTRY_AUTH` (`user:password`, exported by `scripts/test.sh`); reads
//! are anonymous. A registry of a test's own has no auth and ignores a credential sent to it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Apicurio serves Confluent's API, below its root.
const CCOMPAT: &str = "/apis/ccompat/v7";

/// A registry: the stack's, or one of this test's own.
pub struct Registry {
    /// The Confluent-compatible base URL the services and tools take.
    pub url: String,
    /// `user:password` that may write to it, if it needs one.
    pub auth: Option<String>,
    process: Option<Child>,
}

impl Registry {
    /// The stack's registry: `ORDERFLOW_SCHEMA_REGISTRY_URL`, else the local default, with
    /// the credential in `ORDERFLOW_SCHEMA_REGISTRY_AUTH`.
    pub fn shared() -> Registry {
        let url = std::env::var("ORDERFLOW_SCHEMA_REGISTRY_URL")
            .unwrap_or_else(|_| format!("http://127.0.0.1:8081{CCOMPAT}"));
        let auth = std::env::var("ORDERFLOW_SCHEMA_REGISTRY_AUTH").ok();
        Registry {
            url,
            auth,
            process: None,
        }
    }

    /// A registry of this test's own on `port` (0 for any free port), empty, ready to
    /// answer. It holds none of the shared registry's schemas.
    pub async fn start_own(port: u16) -> Registry {
        let port = if port == 0 { free_port() } else { port };
        let root = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("orderflow-registry-{port}.log"));
        let output = std::fs::File::create(&log).expect("create the registry's log");
        let process = Command::new(java())
            .args(["-Xms32m", "-Xmx192m", "-XX:TieredStopAtLevel=1"])
            .arg("-Dquarkus.http.host=127.0.0.1")
            .arg(format!("-Dquarkus.http.port={port}"))
            .arg("-Dquarkus.http.access-log.enabled=false")
            // Its management interface (health, metrics) cannot be turned off; on its
            // default port (9000) it would clash between registries.
            .arg("-Dquarkus.management.host=127.0.0.1")
            .arg(format!("-Dquarkus.management.port={}", free_port()))
            .arg("-Dapicurio.storage.sql.kind=h2")
            .arg("-jar")
            .arg(runner_jar())
            .stdout(Stdio::from(output.try_clone().expect("clone the log file")))
            .stderr(Stdio::from(output))
            .spawn()
            .expect("start Apicurio Registry");
        let registry = Registry {
            url: format!("{root}{CCOMPAT}"),
            auth: None,
            process: Some(process),
        };
        if !registry.answers_within(Duration::from_secs(60)).await {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            panic!(
                "the registry at {} did not answer within 60 s; the end of {}:\n{}",
                registry.url,
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        registry
    }

    /// Sets `subject`'s compatibility level, e.g. `NONE` as a careless producer could.
    pub async fn set_level(&self, subject: &str, level: &str) {
        let url = format!("{}/config/{subject}", self.url);
        let body = serde_json::json!({ "compatibility": level });
        let request = self.authorized(reqwest::Client::new().put(url));
        let response = request.json(&body).send().await;
        let status = response.expect("the registry answers").status();
        assert!(
            status.is_success(),
            "setting {subject} to {level}: {status}"
        );
    }

    /// Registers `schema` under `subject`, as a producer of another version would; its id.
    pub async fn register(&self, subject: &str, schema: &str) -> u32 {
        let url = format!("{}/subjects/{subject}/versions", self.url);
        let body = serde_json::json!({ "schema": schema });
        let request = self.authorized(reqwest::Client::new().post(url));
        let response = request.json(&body).send().await;
        let registered: serde_json::Value = response
            .expect("the registry answers")
            .json()
            .await
            .expect("a JSON answer");
        let id = registered["id"].as_u64();
        id.unwrap_or_else(|| panic!("{subject} not registered: {registered}")) as u32
    }

    /// `request` with this registry's credential, if it has one.
    pub fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.auth.as_deref().and_then(|a| a.split_once(':')) {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Stops this test's own registry (the shared one is left alone).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    async fn answers_within(&self, limit: Duration) -> bool {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/config", self.url)).send().await
                && r.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `ORDERFLOW_REGISTRY_JAR`, which `scripts/test.sh` exports (`scripts/lib.sh` pins the
/// version).
fn runner_jar() -> PathBuf {
    std::env::var_os("ORDERFLOW_REGISTRY_JAR")
        .unwrap_or_else(|| {
            panic!(
                "ORDERFLOW_REGISTRY_JAR is not set: run scripts/test.sh (it exports the runner \
                 jar of Apicurio Registry, ~/.cache/orderflow/apicurio-<version>/)"
            )
        })
        .into()
}

/// `ORDERFLOW_REGISTRY_JAVA`: Apicurio needs Java 21+, which `scripts/test.sh` provides.
fn java() -> PathBuf {
    std::env::var_os("ORDERFLOW_REGISTRY_JAVA")
        .unwrap_or_else(|| panic!("ORDERFLOW_REGISTRY_JAVA is not set: run scripts/test.sh"))
        .into()
}
