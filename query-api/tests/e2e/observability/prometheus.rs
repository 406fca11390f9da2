//! A real Prometheus server for a test: Debian's binary on a free port, scraping the
//! targets it is given every second and evaluating the given rule file, queried over its
//! HTTP API. It is killed and its data removed when dropped.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a condition may take: a few scrapes, or the projector's lag reporter.
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

pub struct Prometheus {
    base: String,
    dir: PathBuf,
    child: Child,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts `binary` scraping `targets` (job name, base URL) and evaluating `rules`.
    pub async fn start(binary: &Path, rules: &Path, targets: &[(&str, &str)]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("orderflow-prometheus-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config(rules, targets)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        let prometheus = Prometheus {
            base: format!("http://127.0.0.1:{port}"),
            dir,
            child,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = prometheus.http.get(format!("{}/-/ready", prometheus.base));
            if matches!(ready.send().await, Ok(r) if r.status() == StatusCode::OK) {
                return prometheus;
            }
            prometheus.give_up_after(deadline, "it did not become ready");
            tokio::time::sleep(POLL).await;
        }
    }

    /// The value of an instant query that yields at most one sample (an aggregation); 0
    /// when it yields none.
    pub async fn value(&self, promql: &str) -> f64 {
        let url =
            Url::parse_with_params(&format!("{}/api/v1/query", self.base), [("query", promql)]);
        let response = self.http.get(url.unwrap()).send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        let samples = body["data"]["result"].as_array().unwrap();
        assert!(samples.len() <= 1, "{promql}: {body}");
        samples
            .first()
            .map_or(0.0, |s| s["value"][1].as_str().unwrap().parse().unwrap())
    }

    /// Waits until `promql` (an aggregation) is at least `at_least`.
    pub async fn until_at_least(&self, promql: &str, at_least: f64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.value(promql).await;
            if value >= at_least {
                return;
            }
            self.give_up_after(
                deadline,
                &format!("{promql} is {value}, not {at_least} or more"),
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The rules whose evaluation failed, once each rule has been evaluated.
    pub async fn failed_rules(&self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let response = self.http.get(format!("{}/api/v1/rules", self.base)).send();
            let body: Value = response.await.unwrap().json().await.unwrap();
            let rules: Vec<&Value> = body["data"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap())
                .collect();
            if !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown") {
                return rules
                    .iter()
                    .filter(|r| r["health"] != "ok")
                    .map(|r| format!("{}: {}", r["name"], r["lastError"]))
                    .collect();
            }
            self.give_up_after(deadline, "the rules were not all evaluated");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails with `what` and the server's log once `deadline` has passed.
    fn give_up_after(&self, deadline: Instant, what: &str) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
            panic!("Prometheus, after {PATIENCE:?}: {what}; its log:\n{log}");
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A configuration scraping `targets` every second, with `rules` evaluated as often.
fn config(rules: &Path, targets: &[(&str, &str)]) -> String {
    // JSON strings are YAML strings: paths and addresses go in quoted.
    let mut config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nscrape_configs:\n",
        json!(rules.to_str().unwrap())
    );
    for (job, url) in targets {
        let target = json!(url.trim_start_matches("http://"));
        config.push_str(&format!(
            "  - {{job_name: {}, static_configs: [{{targets: [{target}]}}]}}\n",
            json!(job)
        ));
    }
    config
}
