//! Three command-service instances under load (ADR 0015, issue 19): clients send
//! conflicting and non-conflicting commands to random instances; one instance, a real
//! process, is killed with SIGKILL in the middle and another joins. Every 2xx is in the
//! log and accepted by the fold, and the partitions the killed one served are taken over
//! (the takeover time is printed).

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
