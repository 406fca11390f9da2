//! Three command-service instances under load (ADR 0015, issue 19), beside two projectors
//! in one group: clients send conflicting and non-conflicting commands to random
//! instances; one instance, a real process, is killed with SIGKILL in the middle and
//! another joins. Every 2xx is in the log and accepted by the fold, the partitions the
//! killed one served are taken over (the takeover time is printed), and once projected
//! the read model is what `projector verify` expects. A rolling restart of all three
//! under load ends the same way.

use crate::concurrency::accepted_by_the_fold;
use crate::helpers::{TestApp, brokers, issuer, order_body, spawn_app, step_request};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A command-service process on `app`'s log and group, to kill with SIGKILL.
fn process_beside(app: &TestApp) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let jwks = issuer()
        .dev()
        .jwks_path()
        .expect("the test issuer's JWKS file");
    let child = Command::new(env!("CARGO_BIN_EXE_command-service"))
        .env("ORDERFLOW_COMMAND_LISTEN", format!("127.0.0.1:{port}"))
        .env("ORDERFLOW_KAFKA_BROKERS", brokers())
        .env("ORDERFLOW_TOPIC", &app.topic)
        .env("ORDERFLOW_SCHEMA_REGISTRY_URL", &app.registry.url)
        .env("ORDERFLOW_AUTH_JWKS", jwks)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the command-service binary starts");
    (child, format!("http://127.0.0.1:{port}"))
}

/// What the clients were told 2xx: the event ids.
type Acked = Arc<Mutex<Vec<String>>>;

/// One client: places orders with keys and races two packs of each, at random instances,
/// until `until`; records every 2xx event.
async fn client(urls: Arc<Mutex<Vec<String>>>, acked: Acked, until: Instant) {
    let http = issuer().operator_client();
    let pick = || {
        let urls = urls.lock().unwrap();
        urls[(Uuid::new_v4().as_u128() % urls.len() as u128) as usize].clone()
    };
    while Instant::now() < until {
        let key = Uuid::new_v4().to_string();
        let placed = http
            .post(format!("{}/orders", pick()))
            .header("idempotency-key", &key);
        let Ok(response) = placed.json(&order_body(None)).send().await else {
            continue;
        };
        if response.status() != 201 {
            continue;
        }
        let body: Value = response.json().await.unwrap();
        acked
            .lock()
            .unwrap()
            .push(body["event_id"].as_str().unwrap().to_owned());
        let id = body["order_id"].as_str().unwrap().to_owned();
        let (path, step) = step_request("pack");
        let pack = |url: String| {
            http.post(format!("{url}/orders/{id}/{path}"))
                .json(&step)
                .send()
        };
        let (first, second) = tokio::join!(pack(pick()), pack(pick()));
        for response in [first, second].into_iter().flatten() {
            if response.status().is_success() {
                let body: Value = response.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(body["event_id"].as_str().unwrap().to_owned());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_under_load_lose_nothing_when_one_is_killed_and_another_joins() {
    let a = spawn_app().await;
    let projectors = Projectors::start(&a).await;
    let b = a.second_instance().await;
    let (mut killed, killed_url) = process_beside(&a);
    ready(&killed_url).await;
    a.wait_ready().await;
    b.wait_ready().await;
    let urls = Arc::new(Mutex::new(vec![
        a.address.clone(),
        b.address.clone(),
        killed_url.clone(),
    ]));
    let acked: Acked = Arc::default();
    let until = Instant::now() + Duration::from_secs(20);
    let clients: Vec<_> = (0..6)
        .map(|_| tokio::spawn(client(urls.clone(), acked.clone(), until)))
        .collect();

    tokio::time::sleep(Duration::from_secs(4)).await;
    killed.kill().unwrap();
    killed.wait().unwrap();
    let killed_at = Instant::now();
    urls.lock().unwrap().retain(|u| *u != killed_url);
    let before = acked.lock().unwrap().len();
    let d = a.second_instance().await;
    urls.lock().unwrap().push(d.address.clone());
    // Takeover: until every partition serves again, a keyed placement through `a` for
    // each partition succeeds (6 partitions; keys are tried until each is covered).
    let takeover = every_partition_serves(&a).await;
    println!(
        "takeover after SIGKILL: {:?} (from the kill)",
        takeover.duration_since(killed_at)
    );
    for task in clients {
        task.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > before,
        "commands were acknowledged after the kill"
    );
    let accepted = accepted_by_the_fold(&a.log().await);
    let missing: Vec<_> = acked.iter().filter(|id| !accepted.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not accepted by the fold: {missing:?}"
    );
    projectors.verified(a.log().await.len() as u64).await;
    drop((b, d));
}

/// Waits until the instance at `url` answers `/readyz` with 200.
async fn ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{url}/readyz"))
        .await
        .map(|r| r.status())
        .ok()
        != Some(reqwest::StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "{url} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// When a placement to every partition succeeds again (through `app`, forwarding).
async fn every_partition_serves(app: &TestApp) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut served = std::collections::HashSet::new();
    while served.len() < 6 {
        assert!(
            Instant::now() < deadline,
            "partitions {served:?} serve; the rest never came back"
        );
        let key = Uuid::new_v4().to_string();
        let response = app
            .post("/orders", &order_body(None), &[("idempotency-key", &key)])
            .await;
        if response.status() == 201 {
            let body: Value = response.json().await.unwrap();
            served.insert(body["position"]["partition"].as_i64().unwrap());
        }
    }
    Instant::now()
}

/// One client of the rolling restart: places orders with keys at random instances and
/// retries a 503 with the same key (as the API asks) until it is answered; counts the
/// 503s and records every 2xx event with its key.
async fn patient_client(
    urls: Arc<Mutex<Vec<String>>>,
    acked: Arc<Mutex<Vec<(String, String)>>>,
    unavailable: Arc<std::sync::atomic::AtomicUsize>,
    running: Arc<std::sync::atomic::AtomicBool>,
) {
    let http = issuer().operator_client();
    while running.load(std::sync::atomic::Ordering::SeqCst) {
        let key = Uuid::new_v4().to_string();
        loop {
            let url = {
                let urls = urls.lock().unwrap();
                urls[(Uuid::new_v4().as_u128() % urls.len() as u128) as usize].clone()
            };
            let request = http
                .post(format!("{url}/orders"))
                .header("idempotency-key", &key);
            match request.json(&order_body(None)).send().await {
                Ok(response) if response.status().is_success() => {
                    let body: Value = response.json().await.unwrap();
                    let event = body["event_id"].as_str().unwrap().to_owned();
                    acked.lock().unwrap().push((key.clone(), event));
                    break;
                }
                Ok(response) if response.status() == 503 => {
                    assert!(response.headers().contains_key("retry-after"));
                    unavailable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // An instance being stopped closes its connections: the same retry.
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_of_three_instances_under_load_loses_nothing_and_applies_nothing_twice() {
    let first = spawn_app().await;
    let projectors = Projectors::start(&first).await;
    let mut instances = vec![first.second_instance().await, first.second_instance().await];
    instances.insert(0, first);
    for app in &instances {
        app.wait_ready().await;
    }
    let urls: Vec<String> = instances.iter().map(|a| a.address.clone()).collect();
    let urls = Arc::new(Mutex::new(urls));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let unavailable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(patient_client(
                urls.clone(),
                acked.clone(),
                unavailable.clone(),
                running.clone(),
            ))
        })
        .collect();

    // One by one: stop an instance (it leaves the group), start its replacement, and go
    // on once the replacement is ready.
    for n in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let old = instances.remove(0);
        urls.lock().unwrap().retain(|u| *u != old.address);
        let replacement = old.restart().await;
        urls.lock().unwrap().push(replacement.address.clone());
        instances.push(replacement);
        println!("instance {n} restarted");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    for task in clients {
        task.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let log = instances[0].log().await;
    projectors.verified(log.len() as u64).await;
    let accepted = accepted_by_the_fold(&log);
    assert!(
        acked.iter().all(|(_, event)| accepted.contains(event)),
        "an acknowledged event is not accepted"
    );
    // Each key placed its order once: a retry found the first placement, never made a
    // second one.
    let mut placements = std::collections::HashMap::new();
    for record in log
        .iter()
        .filter(|r| accepted.contains(&r.event.meta.event_id.to_string()))
    {
        *placements.entry(record.event.order_id.clone()).or_insert(0) +=
            usize::from(record.event.version == 1);
    }
    assert!(
        placements.values().all(|n| *n == 1),
        "an order placed twice"
    );
    assert_eq!(
        placements.len(),
        acked.len(),
        "every acknowledged placement, once"
    );
    println!(
        "rolling restart: {} placements, {} answers of 503",
        acked.len(),
        unavailable.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// Two projectors in one group on the test's log, in a read-model database of its own.
struct Projectors {
    settings: orderflow_projector::Settings,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Projectors {
    async fn start(app: &TestApp) -> Projectors {
        let database = orderflow_testkit::fresh_database("cs_test_pj").await;
        let redis = orderflow_testkit::redis_url();
        let mut settings = orderflow_projector::Settings::for_stack(
            &brokers(),
            &app.registry.url,
            &app.topic,
            &database,
            &redis,
        );
        let id = Uuid::new_v4().simple();
        settings.group = format!("cs-pj-{id}");
        settings.redis_prefix = format!("cstest:{id}:");
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let run = orderflow_projector::run(settings.clone(), listener, std::future::pending());
            tasks.push(tokio::spawn(async move {
                run.await.expect("a projector failed");
            }));
        }
        Projectors {
            settings,
            _tasks: tasks,
        }
    }

    /// Waits until the read model has folded all `records` of the log, and checks it is
    /// what a fold of the log gives (`projector verify`).
    async fn verified(&self, records: u64) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let report = orderflow_projector::tools::verify::verify(&self.settings).await;
            if let Ok(report) = report
                && report.records >= records
            {
                assert!(report.differences.is_empty(), "{:#?}", report.differences);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the projectors did not fold the log in time"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Projectors {
    fn drop(&mut self) {
        self._tasks.iter().for_each(|t| t.abort());
    }
}
